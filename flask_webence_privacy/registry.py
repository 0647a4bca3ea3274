"""Sources of personal data: every model that joins export, erasure and retention.

``privacy.register(Model, ...)`` adds a :class:`Source`. The package's own models
register through the same call, so export, erasure, the purge and the record of
processing all read one list and cannot disagree about where data lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigurationError, Text

ERASE_MODES = ("delete", "anonymize")


@dataclass(frozen=True)
class Source:
    """One registered model and how its rows are found, kept and removed.

    ``category`` is a retention category name; ``category_column`` names a column
    holding one per row (the contact form stores its purpose's category). ``erase``
    is ``"delete"``, ``"anonymize"`` (personal fields set to NULL or a marker) or a
    callable ``erase(query_of_rows) -> int``.
    """

    model: Any
    name: str
    category: str = "default"
    category_column: str | None = None
    email: str = "email"
    timestamp: str = "created_at"
    erase: str | Callable[..., int] = "delete"
    fields: tuple[str, ...] | None = None
    editable: tuple[str, ...] = ()
    purpose: Text | None = None
    label: Text | None = None
    builtin: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> Any:
        return self.model.__table__

    def column(self, name: str) -> Any:
        return self.table.c[name]

    def exported_fields(self) -> tuple[str, ...]:
        if self.fields is not None:
            return self.fields
        return tuple(c.name for c in self.table.columns)

    def categories(self, known: Iterable[str]) -> tuple[str, ...]:
        """The categories this source's rows can be in."""
        if self.category_column is None:
            return (self.category,)
        return tuple(known)


def make_source(
    model: Any,
    *,
    category: str = "default",
    category_column: str | None = None,
    email: str = "email",
    timestamp: str = "created_at",
    erase: str | Callable[..., int] = "delete",
    fields: Iterable[str] | None = None,
    editable: Iterable[str] = (),
    purpose: Text | None = None,
    label: Text | None = None,
    builtin: bool = False,
) -> Source:
    """Build a source, checking the names against the model's columns."""
    table = getattr(model, "__table__", None)
    if table is None:
        raise TypeError(f"privacy.register() needs a mapped model class, got {model!r}")
    name = getattr(model, "__name__", table.name)
    columns = set(table.c.keys())

    def check(arg: str, column: str | None) -> None:
        if column is not None and column not in columns:
            raise ConfigurationError(
                f"privacy.register({name}): {arg}={column!r} is not a column of {table.name}"
            )

    check("email", email)
    check("timestamp", timestamp)
    check("category_column", category_column)
    field_names = tuple(fields) if fields is not None else None
    for column in field_names or ():
        check("fields", column)
    editable_names = tuple(editable)
    for column in editable_names:
        check("editable", column)
    if not callable(erase) and erase not in ERASE_MODES:
        raise ConfigurationError(
            f"privacy.register({name}): erase must be 'delete', 'anonymize' or a callable"
        )
    if not isinstance(category, str) or not category:
        raise ConfigurationError(f"privacy.register({name}): category must be a name")
    return Source(
        model=model,
        name=name,
        category=category,
        category_column=category_column,
        email=email,
        timestamp=timestamp,
        erase=erase,
        fields=field_names,
        editable=editable_names,
        purpose=purpose,
        label=label,
        builtin=builtin,
    )


def check_categories(sources: Iterable[Source], known: Mapping[str, Any]) -> None:
    """Every fixed category must exist in ``PRIVACY_RETENTION``; named in the error."""
    for source in sources:
        if source.category_column is None and source.category not in known:
            raise ConfigurationError(
                f"privacy.register({source.name}): unknown retention category "
                f"{source.category!r}; PRIVACY_RETENTION has {', '.join(sorted(known))}"
            )
