"""Retail REST API: the lookup is the clerk's only way to a member; lists and exports are for managers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.retail import services
from crm.modules.retail.models import Member, PointsEntry

from .factories import make_shop, to_public

API = "/api/v1/retail"
PARTIALS = [
    {"name": "张三", "member_no": ""},
    {"name": "", "member_no": "VIP0001"},
    {"name": "张", "member_no": "VIP0001"},
    {"name": "张三", "member_no": "VIP000"},
    {"name": "张三丰", "member_no": "VIP0001"},
    {"name": "李四", "member_no": "VIP0001"},
]


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


@pytest.fixture
def shop(alpha):
    with schema_context(alpha.schema):
        made = make_shop(alpha.users)
    to_public()
    return made


@pytest.mark.parametrize("data", PARTIALS)
def test_api_lookup_refuses_partials_with_the_same_answer(alpha, shop, data):
    response = post(alpha.client("clerk"), f"{API}/lookup/", data)
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "not_found" and "张三" not in response.content.decode()


def test_api_lookup_then_card_sale_redeem(alpha, shop):
    client = alpha.client("clerk")
    # Before a lookup the clerk cannot open the member by id (same 404 as a missing id).
    assert client.get(f"{API}/members/{shop.member.pk}/").status_code == 404
    found = post(client, f"{API}/lookup/", {"name": " 张三", "member_no": "ｖｉｐ０００１"})
    assert found.status_code == 200, found.content
    card = found.json()
    assert (card["id"], card["tier"], card["points_balance"]) == (shop.member.pk, "普通", 0)
    assert client.get(f"{API}/members/{shop.member.pk}/").status_code == 200
    assert client.get(f"{API}/members/{shop.other.pk}/").status_code == 404  # not looked up
    sale = post(
        client, f"{API}/sales/", {"member": shop.member.pk, "store": shop.store.pk, "amount": "128.80"}
    )
    assert sale.status_code == 201, sale.content
    assert (sale.json()["points"], sale.json()["points_balance"]) == (128, 128)
    # A sale for a member not looked up is refused.
    other = post(client, f"{API}/sales/", {"member": shop.other.pk, "store": shop.store.pk, "amount": "10"})
    assert other.status_code == 404
    unconfirmed = post(client, f"{API}/members/{shop.member.pk}/redeem/", {"points": 28})
    assert unconfirmed.status_code == 400 and unconfirmed.json()["error"]["code"] == "confirmation_required"
    too_many = post(client, f"{API}/members/{shop.member.pk}/redeem/", {"points": 129, "confirm": True})
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "insufficient_points"
    ok = post(client, f"{API}/members/{shop.member.pk}/redeem/", {"points": 28, "confirm": True})
    assert ok.status_code == 200 and ok.json()["points_balance"] == 100
    with schema_context(alpha.schema):
        m = Member.objects.get(pk=shop.member.pk)
        assert m.points_balance == 100 == services.ledger_sum(m)


@pytest.mark.parametrize("path", ["/members/", "/members/export/", "/members/?q=VIP"])
def test_api_clerk_cannot_list_search_or_export(alpha, shop, path):
    assert alpha.client("clerk").get(f"{API}{path}").status_code == 403
    assert alpha.client("sales").get(f"{API}{path}").status_code == 403
    assert alpha.client("manager").get(f"{API}{path}").status_code == 200


def test_api_void_is_for_managers(alpha, shop):
    with schema_context(alpha.schema):
        sale = services.sale_record(
            actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="50"
        )
    to_public()
    url = f"{API}/sales/{sale.sale.pk}/void/"
    assert post(alpha.client("clerk"), url, {"reason": "退货"}).status_code == 403
    assert post(alpha.client("manager"), url, {"reason": "退货"}).status_code == 200
    again = post(alpha.client("owner"), url, {"reason": "退货"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "already_void"
    with schema_context(alpha.schema):
        assert Member.objects.get(pk=shop.member.pk).points_balance == 0
        assert PointsEntry.objects.filter(kind="void").count() == 1


def _many(n, start):
    Member.objects.bulk_create(
        Member(name=f"会员{i}", member_no=f"M{i:06d}") for i in range(start, start + n)
    )


def test_api_member_list_constant_queries(alpha, shop):
    client = alpha.client("manager")
    url = f"{API}/members/?page_size=200"
    client.get(url)  # warm per-tenant caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).json()["count"] == 2
    with schema_context(alpha.schema):
        _many(150, 0)
    to_public()
    with CaptureQueriesContext(connection) as large:
        body = client.get(url).json()
    assert body["count"] == 152 and len(body["results"]) == 152
    assert len(small) == len(large), (len(small), len(large))
