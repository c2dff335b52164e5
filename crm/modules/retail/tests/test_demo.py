from __future__ import annotations

from django.db.models import Count, F, Sum
from django_tenants.utils import schema_context

from crm.modules.retail import demo
from crm.modules.retail.models import Member, PointsEntry, Sale, Store, StoreClerk, Tier


def test_demo_seed_is_consistent_and_idempotent(alpha):
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        assert Store.objects.count() == 2 and list(Tier.objects.values_list("name", flat=True)) == [
            "普通",
            "银卡",
            "金卡",
        ]
        assert StoreClerk.objects.filter(user=alpha.users["clerk"]).exists()
        assert Member.objects.count() == demo.MEMBERS and Sale.objects.count() > demo.MEMBERS
        # Every member's cached balance equals their ledger sum; gold members spent at least the threshold.
        sums = PointsEntry.objects.values("member").annotate(s=Sum("points"))
        ledger = {row["member"]: row["s"] for row in sums}
        balances = dict(Member.objects.values_list("pk", "points_balance"))
        assert all(balances[pk] == ledger.get(pk, 0) for pk in balances)
        gold = Member.objects.filter(tier__name="金卡")
        assert gold.exists() and not gold.filter(total_spend__lt=4000).exists()
        assert gold.annotate(n=Count("tier_changes")).filter(n__gte=1).count() == gold.count()
        assert not Sale.objects.filter(created_at__gt=F("updated_at")).exists()
        counts = (Member.objects.count(), Sale.objects.count(), PointsEntry.objects.count())
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        assert (Member.objects.count(), Sale.objects.count(), PointsEntry.objects.count()) == counts
