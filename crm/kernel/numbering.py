"""Gapless document numbers per (document type, year in the tenant's time zone).

The counter row is locked with SELECT ... FOR UPDATE inside the transaction that creates the document:
a concurrent creation waits for the commit, and a rolled-back creation rolls its increment back, so the
numbers of committed documents have no gaps and no duplicates. The lock is held until the creating
transaction ends: keep that transaction short.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from crm.kernel.models import NumberFormat, NumberSequence


def tenant_zone() -> ZoneInfo:
    tenant = getattr(connection, "tenant", None)
    return ZoneInfo(getattr(tenant, "time_zone", "") or "Asia/Shanghai")


def number_year(at: datetime | None = None) -> int:
    """The year a document created at `at` (default now) is numbered in: the tenant's local year."""
    return timezone.localtime(at or timezone.now(), tenant_zone()).year


def number_prefix(doc_type: str, default: str) -> str:
    row = NumberFormat.objects.filter(doc_type=doc_type).values_list("prefix", flat=True).first()
    return row or default


def number_next(*, doc_type: str, prefix: str, digits: int = 5, at: datetime | None = None) -> str:
    """The next number, e.g. "HT-2026-00017". Must run inside the creating transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next must run inside the transaction that creates the document")
    year = number_year(at)
    NumberSequence.objects.bulk_create(
        [NumberSequence(doc_type=doc_type, year=year)], ignore_conflicts=True
    )  # INSERT ... ON CONFLICT DO NOTHING: the first number of a year races safely
    seq = NumberSequence.objects.select_for_update().get(doc_type=doc_type, year=year)
    seq.last += 1
    NumberSequence.objects.filter(pk=seq.pk).update(last=seq.last)
    return f"{number_prefix(doc_type, prefix)}-{year}-{seq.last:0{digits}d}"
