"""Money area demo: targets for the demo reps for 12 months and fapiao for most confirmed contracts, twice
the same rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django_tenants.utils import schema_context

from crm.modules.sales import demo_money
from crm.modules.sales.models import Contract, Fapiao, Target

from .factories import line, make_contract


def test_demo_seed_is_idempotent_and_invoices_most_contracts(alpha):
    with schema_context(alpha.schema):
        demo_money.seed(alpha.tenant)  # no contracts yet: targets only
        assert Target.objects.count() == 13 * 3  # manager, sales, sales2; 12 months back and this one
        assert not Fapiao.objects.exists()
        for i in range(10):
            c = make_contract(alpha.users["sales"], lines=[line(price=str(1000 + i))])
            Contract.objects.filter(pk=c.pk).update(
                confirmed_at=datetime(2026, 11, 1 + i, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
            )
        demo_money.seed(alpha.tenant)
        counts = (Target.objects.count(), Fapiao.objects.count())
        assert 6 <= counts[1] <= 9
        for f in Fapiao.objects.select_related("contract"):
            assert f.amount_excl + f.amount_tax == f.amount_incl
            assert f.contract.invoiced_amount == f.amount_incl
            assert f.contract.invoice_status in ("partial", "full")
        demo_money.seed(alpha.tenant)
        assert (Target.objects.count(), Fapiao.objects.count()) == counts
