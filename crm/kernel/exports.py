"""One export helper for every module (issue 9 section 2.8): a list as CSV or .xlsx.

    return export_response(rows=member_rows(qs), columns=[_("Name"), ...], filename="members", fmt="xlsx")

- CSV is UTF-8 with a byte order mark (Excel on Chinese Windows otherwise reads it as GBK) and streamed
  row by row, so a 100k-row list never sits in memory.
- .xlsx is written by openpyxl in write-only mode (rows are not kept) into a temporary file, and answered
  from memory as the compressed workbook; more rows than a sheet holds is refused.
- Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) is prefixed with a quote
  (CSV/formula injection); numbers stay numbers in .xlsx.
- The file name carries the workspace (``<slug>-<name>-<date>.<ext>``) so downloads of several workspaces
  do not overwrite each other, and is reduced to safe ASCII characters.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import connection
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else value
    if isinstance(value, (bool, int, float, Decimal, date)):
        return value
    return safe_cell(str(value))


def export_filename(name: str, fmt: Format) -> str:
    """``<workspace slug>-<name>-<local date>.<fmt>`` in safe ASCII (the tenant's slug, else its schema)."""
    tenant = getattr(connection, "tenant", None)
    workspace = str(getattr(tenant, "slug", "") or getattr(connection, "schema_name", "") or "crm")
    stem = "-".join(p for p in (workspace, name, timezone.localdate().isoformat()) if p)
    stem = _UNSAFE.sub("-", stem).strip("-.") or "export"
    return f"{stem[:120]}.{fmt}"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(c) for c in columns])
    for row in rows:
        yield writer.writerow([_cell(v) for v in row])


def export_response(
    *,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    filename: str,
    fmt: str = "csv",
) -> HttpResponseBase:
    """A download of ``rows`` under the header ``columns``; ``filename`` is the list's name without workspace,
    date or extension (``members``). ``fmt`` is ``csv`` or ``xlsx`` (anything else: ServiceError)."""
    if fmt not in FORMATS:
        raise ServiceError(_("Choose CSV or Excel (xlsx)."), field="type")
    name = export_filename(filename, fmt)  # type: ignore[arg-type]
    disposition = f'attachment; filename="{name}"'
    if fmt == "csv":
        streaming = StreamingHttpResponse(_csv(rows, columns), content_type=CSV)
        streaming["Content-Disposition"] = disposition
        return streaming

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_UNSAFE.sub("-", filename)[:31] or "export")
    ws.append([str(c) for c in columns])
    for count, row in enumerate(rows, start=1):
        if count > XLSX_MAX_ROWS:
            raise ServiceError(_("Too many rows for one Excel sheet: export as CSV instead."), field="type")
        ws.append([_cell(v) for v in row])
    # The sheet is written row by row into a file spooled to disk past a few MB; the answer then holds the
    # compressed workbook only (a fraction of the rows' size).
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buffer:
        wb.save(buffer)
        buffer.seek(0)
        response = HttpResponse(buffer.read(), content_type=XLSX)
    response["Content-Disposition"] = disposition
    return response
