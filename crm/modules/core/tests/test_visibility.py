"""Who sees which customers: rep (own + shared), manager (team subtree), owner/admin (all), clerk (none)."""

from __future__ import annotations

import pytest
from django.http import Http404
from django_tenants.utils import schema_context

from crm.modules.core import selectors, services
from crm.tenants.accounts.models import Team, User

from .factories import customer


@pytest.fixture
def world_customers(alpha):
    """Given one customer for each of: sales (in the manager's team), sales2 (no team), admin."""
    with schema_context(alpha.schema):
        u = alpha.users
        yield {
            "sales": customer(u["sales"], "甲公司"),
            "sales2": customer(u["sales2"], "乙公司"),
            "admin": customer(u["admin"], "丙公司"),
        }


def names(user):
    return set(selectors.customers_visible(user).values_list("name", flat=True))


def test_rep_sees_own_and_shared_only(alpha, world_customers):
    with schema_context(alpha.schema):
        u = alpha.users
        assert names(u["sales"]) == {"甲公司"}
        services.customer_share(actor=u["sales2"], customer=world_customers["sales2"], user=u["sales"])
        assert names(u["sales"]) == {"甲公司", "乙公司"}
        assert names(u["sales2"]) == {"乙公司"}
        # Shared for reading only: the rep may look but not edit.
        assert not selectors.customer_can_edit(u["sales"], world_customers["sales2"])
        with pytest.raises(services.PermissionDenied):
            services.customer_update(actor=u["sales"], customer=world_customers["sales2"], name="改名")


def test_manager_sees_team_subtree(alpha, world_customers):
    with schema_context(alpha.schema):
        u = alpha.users
        assert names(u["manager"]) == {"甲公司"}
        # sales2 joins a sub-team of the manager's team: now visible too.
        sub = Team.objects.create(name="华东小组", parent=u["sales"].team)
        User.objects.filter(pk=u["sales2"].pk).update(team=sub)
        assert names(u["manager"]) == {"甲公司", "乙公司"}
        assert selectors.customer_can_edit(u["manager"], world_customers["sales2"])


def test_owner_admin_see_all_clerk_none(alpha, world_customers):
    with schema_context(alpha.schema):
        u = alpha.users
        assert names(u["owner"]) == names(u["admin"]) == {"甲公司", "乙公司", "丙公司"}
        assert names(u["clerk"]) == set()
        with pytest.raises(Http404):
            selectors.customer_get(u["sales"], world_customers["sales2"].pk)


def test_search_respects_visibility_and_pinyin(alpha, world_customers):
    with schema_context(alpha.schema):
        u = alpha.users
        services.product_save(actor=u["admin"], name="螺纹钢", code="LW-1", price="10")
        found = selectors.search(u["sales"], "gs")  # pinyin initials of 公司
        assert [c.name for c in found["customers"]] == ["甲公司"]
        assert [p.name for p in selectors.search(u["sales"], "lwg")["products"]] == ["螺纹钢"]
        assert {c.name for c in selectors.search(u["owner"], "公司")["customers"]} == {
            "甲公司",
            "乙公司",
            "丙公司",
        }


def test_dashboards_are_scoped(alpha, world_customers):
    with schema_context(alpha.schema):
        u = alpha.users
        rep = selectors.dashboard_rep(u["sales"])
        assert sum(n for _label, n in rep["by_stage"]) == 1
        team = selectors.dashboard_manager(u["manager"])
        people = {p["user"].pk: sum(p["stages"]) for p in team["people"]}
        assert people == {u["manager"].pk: 0, u["sales"].pk: 1}
