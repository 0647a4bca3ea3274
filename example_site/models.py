"""The site's own personal data: customers with their invoices (bookkeeping duty)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Mapped, mapped_column

from flask_webence_privacy.models import utcnow

from . import db


class Customer(db.Model):
    """A client with a contract: kept 7 years for the tax authority, not erasable."""

    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(db.String(200))
    email: Mapped[str] = mapped_column(db.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(db.String(40))
    address: Mapped[str | None] = mapped_column(db.String(300))
    iban: Mapped[str | None] = mapped_column(db.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Staff type addresses in any case: the package compares lower(email), so that is
# what the index is on (PostgreSQL and SQLite; see the README for MariaDB).
db.Index("ix_customer_email_lower", db.func.lower(Customer.email)).ddl_if(
    dialect=("postgresql", "sqlite"))


def register(privacy) -> None:  # noqa: ANN001 - the site's own Privacy
    if any(source.model is Customer for source in privacy._host_sources):
        return  # create_app called again in the same process (tests)
    privacy.register(
        Customer,
        category="customer",
        editable=("name", "phone", "address"),
        label={"en": "Customer records and invoices", "nl": "Klantgegevens en facturen"},
        purpose={"en": "Carrying out our agreement, invoicing and bookkeeping",
                 "nl": "Uitvoeren van onze overeenkomst, facturering en boekhouding"},
    )

