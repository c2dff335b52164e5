"""visible_to / editable_to / can_edit over owned models (core Customer with shares, Task without), for
every role: owner and admin all, manager the team subtree, sales/finance/warehouse own, clerk none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel.scope import can_edit, editable_to, team_user_ids, visible_to
from crm.modules.core import selectors
from crm.modules.core.models import Activity, Contact, Customer, CustomerShare, Task
from crm.modules.core.tests.factories import customer
from crm.platform.permissions import Role
from crm.tenants.accounts.models import Team, User

ALL = {"A", "B", "C", "D", "E", "P"}
# Customers by owner: A sales (manager's team), B sub (a sub-team of it), C sales2 (no team), D admin,
# E finance, P in the pool (no owner). C is shared with sales for reading, D for writing, A with the clerk.
VISIBLE = {
    "owner": ALL,
    "admin": ALL,
    "manager": {"A", "B"},
    "sales": {"A", "C", "D"},
    "sub": {"B"},
    "sales2": {"C"},
    "finance": {"E"},
    "warehouse": set(),  # no core.view_customers
    "clerk": set(),
}
EDITABLE = {**VISIBLE, "sales": {"A", "D"}}
TASKS = {  # Task has no shares: by owner only, no permission asked
    "owner": {"t-sales", "t-sub", "t-sales2", "t-admin", "t-finance", "t-warehouse"},
    "admin": {"t-sales", "t-sub", "t-sales2", "t-admin", "t-finance", "t-warehouse"},
    "manager": {"t-sales", "t-sub"},
    "sales": {"t-sales"},
    "sub": {"t-sub"},
    "sales2": {"t-sales2"},
    "finance": {"t-finance"},
    "warehouse": {"t-warehouse"},
    "clerk": set(),
}


@pytest.fixture
def owned(alpha: Any) -> Any:
    """Given the customers, shares, contacts and tasks above, inside alpha's schema."""
    with schema_context(alpha.schema):
        u = dict(alpha.users)
        sub_team = Team.objects.create(name="华东小组", parent=u["sales"].team)
        u["sub"] = User.objects.create_user(
            "sub@alpha.example.com", "x-Pass-12345", name="sub", role=Role.SALES
        )
        User.objects.filter(pk=u["sub"].pk).update(team=sub_team)
        u["sub"].refresh_from_db()
        owners = {"A": "sales", "B": "sub", "C": "sales2", "D": "admin", "E": "finance"}
        cust = {key: customer(u[role], key) for key, role in owners.items()}
        cust["P"] = customer(None, "P", in_pool=True)
        CustomerShare.objects.create(customer=cust["C"], user=u["sales"], can_edit=False)
        CustomerShare.objects.create(customer=cust["D"], user=u["sales"], can_edit=True)
        CustomerShare.objects.create(customer=cust["A"], user=u["clerk"], can_edit=True)
        CustomerShare.objects.create(customer=cust["A"], user=u["sales"], can_edit=True)  # also the owner
        for key, c in cust.items():
            Contact.objects.create(customer=c, name=f"{key}-1")
            Contact.objects.create(customer=c, name=f"{key}-2")
            Activity.objects.create(
                customer=c, author=u["owner"], kind="call", purpose=key, occurred_at=timezone.now()
            )
        due = timezone.now() + timedelta(days=1)
        for role in ("sales", "sub", "sales2", "admin", "finance", "warehouse"):
            Task.objects.create(title=f"t-{role}", due_at=due, owner=u[role])
        yield u, cust


def names(qs: Any, field: str = "name") -> set[str]:
    return set(qs.values_list(field, flat=True))


@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_visible_to_customers_by_role_with_shares(
    owned: Any, role: str, django_assert_num_queries: Any
) -> None:
    u, _cust = owned
    qs = visible_to(Customer.objects.all(), u[role], shares="shares", perm="core.view_customers")
    with CaptureQueriesContext(connection) as ctx:
        rows = [c.name for c in qs]
    # django-tenants sets the search_path per cursor; count only the reads.
    selects = [q for q in ctx.captured_queries if not q["sql"].startswith("SET ")]
    assert len(selects) == (1 if VISIBLE[role] else 0)
    # Then: exactly the expected set, each once (A is owned by and shared with sales).
    assert sorted(rows) == sorted(VISIBLE[role])
    assert names(selectors.customers_visible(u[role])) == VISIBLE[role]


@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_children_follow_their_customer(owned: Any, role: str) -> None:
    u, _cust = owned
    contacts = names(selectors.contacts_visible(u[role]), "name")
    assert contacts == {f"{k}-{i}" for k in VISIBLE[role] for i in (1, 2)}
    assert names(selectors.activities_visible(u[role]), "purpose") == VISIBLE[role]
    assert selectors.contacts_visible(u[role]).count() == 2 * len(VISIBLE[role])  # no duplicates


@pytest.mark.parametrize("role", sorted(EDITABLE))
def test_editable_to_and_can_edit_agree(owned: Any, role: str) -> None:
    u, cust = owned
    editable = editable_to(Customer.objects.all(), u[role], shares="shares", perm="core.view_customers")
    assert names(editable) == EDITABLE[role]
    one_by_one = {k for k, c in cust.items() if selectors.customer_can_edit(u[role], c)}
    assert one_by_one == EDITABLE[role]
    assert selectors.customers_editable(u[role], [c.pk for c in cust.values()]) == {
        cust[k].pk for k in EDITABLE[role]
    }


@pytest.mark.parametrize("role", sorted(TASKS))
def test_visible_to_tasks_by_owner(owned: Any, role: str) -> None:
    u, _cust = owned
    assert names(visible_to(Task.objects.all(), u[role]), "title") == TASKS[role]
    mine = Task.objects.get(title="t-sales")
    assert can_edit(u[role], mine) == ("t-sales" in TASKS[role])


def test_team_subtree_follows_the_tree(owned: Any) -> None:
    u, _cust = owned
    assert team_user_ids(u["manager"]) == {u["manager"].pk, u["sales"].pk, u["sub"].pk}
    # When the sub-team leaves the tree, its member's records leave the manager's scope.
    Team.objects.filter(name="华东小组").update(parent=None)
    assert names(selectors.customers_visible(u["manager"])) == {"A"}


def test_child_owner_path_on_can_edit(owned: Any) -> None:
    u, _cust = owned
    contact = Contact.objects.select_related("customer").get(name="C-1")
    assert can_edit(u["sales2"], contact, owner_field="customer__owner", shares="customer__shares")
    assert not can_edit(u["sales"], contact, owner_field="customer__owner", shares="customer__shares")
    assert can_edit(u["manager"], Contact.objects.get(name="B-1"), owner_field="customer__owner")
    assert not can_edit(u["manager"], contact, owner_field="customer__owner")


def test_customer_timeline_goes_through_the_scope(owned: Any) -> None:
    u, cust = owned
    assert [a.purpose for a in selectors.customer_timeline(u["sales2"], cust["C"])] == ["C"]
    assert list(selectors.customer_timeline(u["sales2"], cust["A"])) == []


def test_anonymous_sees_nothing(owned: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not visible_to(Customer.objects.all(), AnonymousUser()).exists()
    assert not can_edit(AnonymousUser(), owned[1]["A"])
