from __future__ import annotations

from django_tenants.utils import schema_context

from crm.modules.core import demo
from crm.modules.core.models import Activity, Customer, Product


def test_demo_seed_is_realistic_and_idempotent(alpha):
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        counts = (Customer.objects.count(), Product.objects.count(), Activity.objects.count())
        assert counts[0] == 36 and counts[1] == len(demo.PRODUCTS) and counts[2] > 30
        assert Customer.objects.filter(in_pool=True, owner__isnull=True).count() == 4
        assert all("有限公司" in n for n in Customer.objects.values_list("name", flat=True))
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        assert (Customer.objects.count(), Product.objects.count(), Activity.objects.count()) == counts
