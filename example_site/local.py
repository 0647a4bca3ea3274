"""Who may see the demo's maintainer pages and mail viewer: this machine only."""

from __future__ import annotations

from flask import request

LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def from_this_machine() -> bool:
    """The request comes from this machine and names it: a loopback client and a
    loopback Host header. The Host check stops DNS rebinding: a web page
    elsewhere whose name resolves to 127.0.0.1 still sends its own name."""
    host = request.host.lower()
    name = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    return request.remote_addr in LOOPBACK_ADDRESSES and name in LOOPBACK_HOSTS
