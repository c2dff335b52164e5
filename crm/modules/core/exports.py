"""The core's exports: the rows of visible customers and products; the file is the kernel's
(crm.kernel.exports: CSV with BOM or .xlsx, tenant-keyed file name)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.exports import FORMATS, XLSX, export_response

from .models import Customer, Product

__all__ = ["XLSX", "customer_rows", "product_rows", "respond"]


def customer_rows(qs: QuerySet[Customer]) -> tuple[list[str], Iterable[Sequence[Any]]]:
    headers = [
        _("Name"),
        _("Type"),
        _("Stage"),
        _("Source"),
        _("Phone"),
        _("Email"),
        _("Province"),
        _("City"),
        _("Address"),
        _("Tags"),
        _("Owner"),
        _("Last follow-up"),
        _("Created"),
    ]

    def rows() -> Iterable[Sequence[Any]]:
        for c in qs.select_related("owner").iterator(chunk_size=2000):
            yield [
                c.name,
                c.get_kind_display(),
                c.get_stage_display(),
                c.get_source_display(),
                c.phone,
                c.email,
                c.province,
                c.city,
                c.address,
                ",".join(c.tags),
                c.owner.name if c.owner else "",
                _local(c.last_activity_at),
                _local(c.created_at),
            ]

    return headers, rows()


def product_rows(qs: QuerySet[Product]) -> tuple[list[str], Iterable[Sequence[Any]]]:
    headers = [
        _("Code"),
        _("Name"),
        _("Specification"),
        _("Unit"),
        _("Price (tax incl.)"),
        _("Currency"),
        _("Cost"),
        _("Category"),
    ]
    return headers, (
        [p.code, p.name, p.specification, p.unit, p.price, p.currency, p.cost, p.category]
        for p in qs.iterator(chunk_size=2000)
    )


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def respond(name: str, fmt: str, headers: list[str], rows: Iterable[Sequence[Any]]) -> HttpResponseBase:
    """A download through the kernel's one export helper (pages pass any ?format=: CSV unless xlsx)."""
    return export_response(rows=rows, columns=headers, filename=name, fmt=fmt if fmt in FORMATS else "csv")
