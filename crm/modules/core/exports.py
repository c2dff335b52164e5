"""Export of visible lists as CSV (UTF-8 with BOM, so Excel opens Chinese correctly) or .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Customer, Product

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (CSV/formula injection) is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def respond(name: str, fmt: str, headers: list[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    stamp = timezone.localdate().isoformat()
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(name)
        ws.append(headers)
        for row in rows:
            ws.append(
                [
                    _safe(str(v)) if v is not None and not isinstance(v, (int, float, Decimal)) else v
                    for v in row
                ]
            )
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(buf.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.xlsx"'
        return response
    writer = csv.writer(_Echo())

    def stream() -> Iterable[str]:
        yield "\ufeff" + writer.writerow(headers)
        for row in rows:
            yield writer.writerow(["" if v is None else _safe(v) for v in row])

    streaming = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    streaming["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return streaming  # type: ignore[return-value]
