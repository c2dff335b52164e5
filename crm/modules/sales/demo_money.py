"""Demo data: money. Monthly targets of the demo reps for the last 12 months (and this one), and fapiao for
most confirmed demo contracts (the documents area's demo makes the contracts: without any, nothing).
Idempotent: targets only where a rep has none that month, fapiao only for contracts without any."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.kernel.money import round_money
from crm.kernel.tenant_time import tenant_today
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from .models import Contract, Fapiao, Target
from .selectors_money import add_months, sales_settings
from .services_money import buyer_defaults, refresh_invoiced

KINDS = (Fapiao.Kind.SPECIAL, Fapiao.Kind.DIGITAL, Fapiao.Kind.SPECIAL, Fapiao.Kind.ORDINARY)


def _targets() -> None:
    this_month = tenant_today().replace(day=1)
    reps = list(User.objects.filter(is_active=True, role__in=(Role.SALES, Role.MANAGER)).order_by("pk"))
    have = set(Target.objects.filter(user__in=reps).values_list("user_id", "month"))
    rows = []
    for n, rep in enumerate(reps):
        base = Decimal(150000 + (n % 4) * 50000)
        for i in range(12, -1, -1):
            month = add_months(this_month, -i)
            if (rep.pk, month) in have:
                continue
            # Higher targets at the end of quarters and before the Spring Festival, a little growth.
            bump = (
                Decimal("1.2") if month.month in (3, 6, 9, 12) else Decimal("0.7") if month.month == 2 else 1
            )
            rows.append(
                Target(month=month, user=rep, amount=round_money(base * bump * (1 + Decimal(12 - i) / 100)))
            )
    Target.objects.bulk_create(rows)


def _fapiao() -> None:
    recorder = (
        User.objects.filter(is_active=True, role=Role.FINANCE).order_by("pk").first()
        or User.objects.filter(is_active=True, role=Role.OWNER).order_by("pk").first()
    )
    if recorder is None:
        return
    today = tenant_today()
    contracts = (
        Contract.objects.filter(state__in=("confirmed", "completed"), fapiaos__isnull=True, total_incl__gt=0)
        .select_related("customer")
        .prefetch_related("lines")
        .order_by("pk")
    )
    for contract in contracts:
        if contract.pk % 5 == 0:  # some contracts are not invoiced yet
            continue
        lines = list(contract.lines.all())
        rate = lines[0].vat_rate if lines else Decimal("0.06")
        full = contract.pk % 3 != 0
        incl = contract.total_incl if full else round_money(contract.total_incl / 2)
        excl = contract.total_excl if full else round_money(incl / (1 + rate))
        confirmed = timezone.localtime(contract.confirmed_at).date() if contract.confirmed_at else today
        issued = min(today, confirmed + timedelta(days=3 + contract.pk % 10))
        with transaction.atomic():
            Fapiao.objects.create(
                number=f"{issued:%y}{contract.pk:010d}"[:20],
                contract=contract,
                customer_id=contract.customer_id,
                kind=KINDS[contract.pk % len(KINDS)],
                issued_on=issued,
                amount_incl=incl,
                amount_excl=excl,
                amount_tax=incl - excl,
                vat_rate=rate,
                currency=contract.currency,
                recorded_by=recorder,
                **buyer_defaults(contract),
            )
            refresh_invoiced(contract)


def seed(tenant: Any) -> None:
    """Runs inside the tenant schema; idempotent."""
    sales_settings()
    _targets()
    _fapiao()
