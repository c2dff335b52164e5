"""Explore with sample data (issue 10 section 2): the enabled modules' sample data loaded into the owner's
workspace, marked, and removed in one step without touching what was entered meanwhile; page, dashboard
card and API; owners and admins only; never another workspace's rows."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from crm.modules.core import sample
from crm.modules.core.demo import SEED_TAG
from crm.modules.core.models import Activity, Customer, SampleSet
from crm.modules.core.services.activities import activity_create
from crm.modules.core.services.customers import customer_create
from crm.platform.errors import PermissionDenied, ServiceError
from crm.tenants.accounts.models import AuditEntry
from tests.test_module_contract import set_module

API = "/api/v1/core/sample-data/"


def test_load_then_remove_keeps_what_people_entered_and_what_it_refers_to(alpha):
    set_module(alpha.tenant, "retail", False)
    with schema_context(alpha.schema):
        owner = alpha.users["owner"]
        before = set(Customer.objects.values_list("pk", flat=True))
        started = time.perf_counter()
        loaded = sample.sample_load(actor=owner, tenant=alpha.tenant)
        seconds = time.perf_counter() - started
        print(f"sample load: {loaded['rows']} rows in {seconds:.2f} s")
        samples = Customer.objects.filter(tags__contains=[SEED_TAG])
        assert loaded["loaded"] and loaded["rows"] > 100 and samples.count() > 10
        assert set(SampleSet.objects.values_list("table", flat=True)) >= {"core_customer", "core_activity"}
        with pytest.raises(ServiceError) as again:
            sample.sample_load(actor=owner, tenant=alpha.tenant)
        assert again.value.code == "conflict"

        mine = customer_create(actor=owner, name="真实客户有限公司")
        used = samples.order_by("pk")[0]
        note = activity_create(actor=owner, customer=used, result="真的去拜访了")  # on a sample customer
        result = sample.sample_remove(actor=owner)

        assert result["kept"] >= 1 and result["removed"] == loaded["rows"] - result["kept"]
        left = set(Customer.objects.values_list("pk", flat=True))
        assert left == before | {mine.pk, used.pk}  # every other sample customer is gone
        assert Activity.objects.filter(pk=note.pk).exists()
        assert not SampleSet.objects.exists() and not sample.summary()["loaded"]
        actions = AuditEntry.objects.filter(action__startswith="sample.").values_list("action", flat=True)
        assert sorted(actions) == ["sample.load", "sample.remove"]
        with pytest.raises(ServiceError):
            sample.sample_remove(actor=owner)
        with pytest.raises(PermissionDenied):
            sample.sample_load(actor=alpha.users["sales"], tenant=alpha.tenant)


def test_page_card_and_api_for_the_owner_only_and_per_workspace(alpha, beta):
    set_module(alpha.tenant, "retail", False)
    set_module(alpha.tenant, "service", False)
    for role in ("sales", "manager", "finance"):
        assert alpha.client(role).post("/onboarding/sample/", {"action": "load"}).status_code == 403, role
        assert alpha.client(role).post(API).status_code == 403, role
    owner = alpha.client("owner", language="zh-hans")
    page = owner.get("/onboarding/").content.decode()
    assert 'data-testid="sample-load"' in page and "示例数据" in page
    response = owner.post("/onboarding/sample/", {"action": "load"})
    assert response.status_code == 302 and response["Location"] == "/"
    card = owner.get("/onboarding/card/").content.decode()
    assert 'data-testid="sample-banner"' in card and 'data-testid="sample-remove"' in card
    body = json.loads(owner.post(API, HTTP_ACCEPT_LANGUAGE="zh-hans").content)
    assert body["error"]["code"] == "conflict"
    with translation.override("zh-hans"):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"])
    assert json.loads(owner.get(API).content)["loaded"] is True
    assert json.loads(beta.client("owner").get(API).content)["loaded"] is False  # alpha's, not beta's
    with schema_context(beta.schema):
        assert not Customer.objects.filter(tags__contains=[SEED_TAG]).exists()
    removed = json.loads(owner.delete(API).content)
    assert removed["removed"] > 0 and removed["kept"] == 0
    assert json.loads(owner.get(API).content)["loaded"] is False
    assert 'data-testid="sample-banner"' not in owner.get("/onboarding/card/").content.decode()


def test_a_trading_firm_loads_and_removes_its_purchasing_stock_and_sales_year(beta):
    """The trade workspace's sample data (suppliers, purchase orders, receipts into stock, orders shipped from
    it, samples) go in and out in one step each, ledger included."""
    from crm.modules.inventory.models import Delivery, StockBalance, StockMove
    from crm.modules.inventory.services import ledger_mismatches
    from crm.modules.purchasing.models import PurchaseOrder, Supplier

    with schema_context(beta.schema):
        owner = beta.users["owner"]
        loaded = sample.sample_load(actor=owner, tenant=beta.tenant)
        assert loaded["loaded"]
        assert Supplier.objects.exists() and PurchaseOrder.objects.exists() and Delivery.objects.exists()
        assert StockMove.objects.filter(kind="delivery").exists()
        removed = sample.sample_remove(actor=owner)
        assert removed["kept"] == 0
        assert not Supplier.objects.exists() and not PurchaseOrder.objects.exists()
        assert not StockMove.objects.exists() and not Delivery.objects.exists()
        assert not Customer.objects.filter(tags__contains=[SEED_TAG]).exists()
        assert ledger_mismatches() == [] and not StockBalance.objects.exclude(on_hand=0).exists()
