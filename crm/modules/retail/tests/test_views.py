"""Retail pages: lookup → card → sale for clerks; manager pages; module off and on again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.retail import services
from crm.modules.retail.models import Member, PointsEntry, Sale
from crm.tenants.services import module_set_enabled

from .factories import make_shop, to_public
from .test_api import PARTIALS


@pytest.fixture
def shop(alpha):
    with schema_context(alpha.schema):
        made = make_shop(alpha.users)
    to_public()
    return made


@pytest.mark.parametrize("data", PARTIALS)
def test_lookup_page_refuses_partials_without_hints(alpha, shop, data):
    response = alpha.client("clerk").post("/retail/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="lookup-miss"' in html or not all(data.values())  # blank fields: the form says so
    assert "VIP0002" not in html and "李四" not in html.replace('value="李四"', "")


def test_clerk_lookup_card_sale_shows_points_change(alpha, shop):
    client = alpha.client("clerk")
    assert client.get(f"/retail/members/{shop.member.pk}/").status_code == 404  # no lookup yet
    response = client.post("/retail/", {"name": "张三", "member_no": "vip 0001"})
    assert response.status_code == 302 and response.url == f"/retail/members/{shop.member.pk}/"
    card = client.get(response.url).content.decode()
    assert 'data-testid="member-card"' in card and "普通" in card
    assert 'data-testid="points-balance">0<' in card and "Void" not in card
    sale = client.post(
        f"/retail/members/{shop.member.pk}/sale/",
        {"store": shop.store.pk, "amount": "88.80", "quantity": "1"},
    )
    assert sale.status_code == 302
    after = client.get(sale.url).content.decode()
    assert 'data-testid="points-balance">88<' in after and "88.80" in after
    # Redeem without confirmation is refused, with confirmation it works.
    refused = client.post(f"/retail/members/{shop.member.pk}/redeem/", {"points": "8"})
    assert refused.status_code == 400
    client.post(f"/retail/members/{shop.member.pk}/redeem/", {"points": "8", "confirm": "on"})
    with schema_context(alpha.schema):
        m = Member.objects.get(pk=shop.member.pk)
        assert m.points_balance == 80 == services.ledger_sum(m)


@pytest.mark.parametrize(
    "path", ["/retail/members/", "/retail/members/export/", "/retail/stores/", "/retail/setup/"]
)
def test_clerk_gets_no_list_export_or_setup(alpha, shop, path):
    assert alpha.client("clerk").get(path).status_code == 403
    assert alpha.client("manager").get(path).status_code == 200


def test_menu_shows_clerks_only_the_lookup(alpha, shop):
    html = alpha.client("clerk").get("/retail/").content.decode()
    assert 'href="/retail/"' in html and 'href="/retail/members/"' not in html
    manager = alpha.client("manager").get("/retail/").content.decode()
    assert 'href="/retail/members/"' in manager and 'href="/retail/stores/"' in manager


def test_manager_voids_from_the_card(alpha, shop):
    with schema_context(alpha.schema):
        sale = services.sale_record(
            actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="60"
        )
    to_public()
    clerk_try = alpha.client("clerk").post(f"/retail/sales/{sale.sale.pk}/void/", {"reason": "退货"})
    assert clerk_try.status_code == 403
    response = alpha.client("manager").post(f"/retail/sales/{sale.sale.pk}/void/", {"reason": "退货"})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        assert Sale.objects.get(pk=sale.sale.pk).voided_at is not None
        assert Member.objects.get(pk=shop.member.pk).points_balance == 0


def test_manager_setup_pages_create_rows(alpha, shop):
    client = alpha.client("owner")
    assert client.post("/retail/stores/", {"name": "宽窄巷子店", "code": "s03"}).status_code == 302
    r = client.post(
        "/retail/setup/",
        {
            "tier": "1",
            "name": "钻石",
            "rank": "3",
            "basis": "spend",
            "threshold": "20000",
            "discount_percent": "12",
            "points_multiplier": "3",
        },
    )
    assert r.status_code == 302
    r = client.post("/retail/members/", {"name": "王五", "member_no": "vip0003"})
    assert r.status_code == 302
    with schema_context(alpha.schema):
        from crm.modules.retail.models import Store, Tier

        assert Store.objects.filter(code="S03").exists() and Tier.objects.filter(name="钻石", rank=3).exists()
        assert Member.objects.get(member_no="VIP0003").tier == Tier.objects.get(rank=0)


def test_member_list_page_constant_queries(alpha, shop):
    client = alpha.client("manager")
    client.get("/retail/members/")
    with CaptureQueriesContext(connection) as small:
        client.get("/retail/members/")
    with schema_context(alpha.schema):
        Member.objects.bulk_create(
            Member(name=f"会员{i}", member_no=f"N{i:05d}", tier=shop.tiers["gold"], store=shop.store)
            for i in range(60)
        )
    to_public()
    with CaptureQueriesContext(connection) as large:
        html = client.get("/retail/members/").content.decode()
    assert "N00059" in html and "金卡" in html
    assert len(small) == len(large), (len(small), len(large))


def test_module_off_hides_everything_and_on_again_keeps_members_and_ledger(alpha, shop):
    with schema_context(alpha.schema):
        services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="99")
    to_public()
    module_set_enabled(tenant=alpha.tenant, module="retail", enabled=False, actor_email="t@example.com")
    clerk = alpha.client("clerk")
    assert clerk.get("/retail/").status_code == 404
    assert clerk.post("/api/v1/retail/lookup/", {"name": "张三", "member_no": "VIP0001"}).status_code == 404
    module_set_enabled(tenant=alpha.tenant, module="retail", enabled=True, actor_email="t@example.com")
    found = clerk.post(
        "/api/v1/retail/lookup/", {"name": "张三", "member_no": "VIP0001"}, content_type="application/json"
    )
    assert found.status_code == 200 and found.json()["points_balance"] == 99
    with schema_context(alpha.schema):
        assert PointsEntry.objects.filter(member=shop.member).count() == 1
