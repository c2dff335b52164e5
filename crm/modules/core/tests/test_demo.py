from __future__ import annotations

from django_tenants.utils import schema_context

from crm.modules.core import demo
from crm.modules.core.models import Activity, Customer, Product


def test_demo_seed_is_realistic_and_idempotent(alpha):
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        counts = (Customer.objects.count(), Product.objects.count(), Activity.objects.count())
        assert counts[0] == 36 and counts[1] == len(demo.catalogue_for(alpha.tenant)) and counts[2] > 30
        assert Customer.objects.filter(in_pool=True, owner__isnull=True).count() == 4
        assert all("有限公司" in n for n in Customer.objects.values_list("name", flat=True))
    demo.seed(alpha.tenant)
    with schema_context(alpha.schema):
        assert (Customer.objects.count(), Product.objects.count(), Activity.objects.count()) == counts


def test_each_industry_sells_its_own_catalogue(alpha, beta):
    # Given alpha sells by project (and retail) and beta is a trading firm (and retail)
    demo.seed(alpha.tenant)
    demo.seed(beta.tenant)
    with schema_context(alpha.schema):
        alpha_names = set(Product.objects.values_list("name", flat=True))
    with schema_context(beta.schema):
        beta_codes = set(Product.objects.values_list("code", flat=True))
    # Then the integrator sells servers and licences, the trader steel with the codes its suppliers quote
    assert {"机架式服务器", "OA 系统授权"} <= alpha_names and "螺纹钢" not in alpha_names
    assert {"GC-001", "GC-002", "GC-010", "DZ-202"} <= beta_codes
    # And every sales mode has a catalogue of its own, priced above its cost
    assert set(demo.CATALOGUES) == set(demo.CATALOGUE_ORDER)
    codes = [code for cat in demo.CATALOGUES.values() for code, *_ in cat]
    for mode, catalogue in demo.CATALOGUES.items():
        assert len(catalogue) >= 7, mode
        for _code, _name, _spec, _unit, price, cost, _cat in catalogue:
            # the price includes 13 % VAT at most; the cost excludes it: margin stays positive
            assert float(price) / 1.13 > float(cost), (mode, _name)
    assert len(codes) == len(set(codes))  # no code means two products in two catalogues
