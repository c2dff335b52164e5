"""Workspace settings pages on real tenant schemas: modules (gates, log, events), users, invitations,
deactivation, teams, API keys."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.platform.models import DomainEvent
from crm.platform.permissions import Role
from crm.platform.registry import registry
from crm.tenants.accounts.models import ApiKey, AuditEntry, Invitation, Team, User
from crm.tenants.models import ModuleChange, TenantModule
from crm.tenants.selectors import enabled_modules
from crm.tenants.services import module_set_enabled
from tests.fixtures import PASSWORD


def en(client: Client) -> Client:
    """Pin the UI to English so assertions on texts hold once zh-Hans translations exist."""
    client.cookies["django_language"] = "en"
    return client


def found(pattern: str, text: object, group: int = 0) -> str:
    match = re.search(pattern, str(text), re.S)
    assert match, f"{pattern!r} not found"
    return match.group(group)


def card(html: str, slug: str) -> str:
    match = re.search(rf'<section class="card" id="module-{slug}".*?</section>', html, re.S)
    assert match, f"no card for {slug}"
    return match.group(0)


# --- Modules -------------------------------------------------------------------------------------------


def test_modules_page_lists_enabled_first_with_state_price_and_dependencies(alpha):
    # Given alpha with retail and project on (project brings sales documents, retail brings messaging)
    html = en(alpha.client("owner")).get("/settings/modules/").content.decode()

    # Then enabled modules come first, each with its state
    order = re.findall(r'data-module="([a-z]+)" data-state="([a-z]+)"', html)
    states = dict(order)
    assert states["project"] == "on" and states["retail"] == "on"
    assert states["sales"] == "included" and states["messaging"] == "included"
    assert states["production"] == "off" and states["trade"] == "off" and states["inventory"] == "off"
    seen_off = False
    for _slug, state in order:
        seen_off = seen_off or state == "off"
        assert not (seen_off and state != "off"), "an enabled module is listed after a disabled one"

    # A module that is coming soon: its summary and needs, no price and no way to turn it on
    soon = card(html, "production")
    assert 'data-testid="coming-soon">Coming soon<' in soon
    assert str(registry.get("production").summary) in soon
    assert "Needs: Inventory, Sales documents" in soon
    assert "Coming soon: it cannot be turned on yet." in soon
    assert "CNY per month" not in soon and 'value="enable"' not in soon
    sales = card(html, "sales")
    assert "Needed by: Project sales" in sales
    assert "Included because another module needs it." in sales
    assert "<form" not in sales  # building blocks come and go with the modules that need them
    # project is on although it is coming soon (as in the demo workspaces): not billed, can be turned off
    project = card(html, "project")
    assert 'value="disable"' in project and "Data is kept." in project
    assert 'data-testid="not-billed">Coming soon: not billed until it is available<' in project

    # A module on sale that is off (trade): its price, what it needs and what enabling adds
    trade = card(html, "trade")
    assert "249 CNY per month" in trade
    assert "Needs: Inventory, Purchasing, Sales documents" in trade
    assert "Turning this on also adds: Inventory, Purchasing" in trade  # sales documents is already on
    assert 'value="enable"' in trade and "Coming soon" not in trade


def test_toggle_from_page_gates_pages_api_and_menu_and_keeps_data(alpha):
    owner = en(alpha.client("owner"))
    assert owner.get("/dummy/").status_code == 404
    assert owner.get("/api/v1/dummy/ping/").status_code == 404

    # When the owner turns the module on with a plain form post
    response = owner.post("/settings/modules/", {"module": "dummy", "action": "enable"})
    assert response.status_code == 302

    # Then on the next request its page, API and menu entry exist
    assert owner.get("/dummy/").status_code == 200
    assert owner.get("/api/v1/dummy/ping/").json() == {"dummy": "pong"}
    assert "Dummy page" in owner.get("/settings/").content.decode()

    # When it is turned off through htmx: only the list is swapped, with the outcome
    response = owner.post(
        "/settings/modules/", {"module": "dummy", "action": "disable"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="module-list"' in body
    assert 'data-module="dummy" data-state="off"' in body
    assert "Dummy is off. Its data is kept." in body

    # Then page, API and menu are gone; the module's row (and history) stays
    assert owner.get("/dummy/").status_code == 404
    api = owner.get("/api/v1/dummy/ping/")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert "Dummy page" not in owner.get("/settings/").content.decode()
    assert TenantModule.objects.filter(tenant=alpha.tenant, module="dummy", enabled=False).exists()

    # When re-enabled, everything is back
    owner.post("/settings/modules/", {"module": "dummy", "action": "enable"})
    assert owner.get("/dummy/").status_code == 200

    # And each change is recorded once, with who and what, and one domain event each
    changes = list(
        ModuleChange.objects.filter(tenant=alpha.tenant, module="dummy")
        .order_by("id")
        .values_list("action", "actor_email")
    )
    assert changes == [
        ("enable", "owner@alpha.example.com"),
        ("disable", "owner@alpha.example.com"),
        ("enable", "owner@alpha.example.com"),
    ]
    events = list(
        DomainEvent.objects.filter(tenant=alpha.tenant, payload__module="dummy")
        .order_by("id")
        .values_list("name", flat=True)
    )
    assert events == ["module.enabled", "module.disabled", "module.enabled"]
    # The change log is on the page
    log = owner.get("/settings/modules/").content.decode()
    assert log.count("owner@alpha.example.com") >= 3 and "Enabled: Dummy" in log


def test_disabling_retail_hides_it_for_alpha_only(alpha, beta):
    owner = en(alpha.client("owner"))
    owner.post("/settings/modules/", {"module": "retail", "action": "disable"})
    assert "retail" not in enabled_modules(alpha.tenant)
    assert "retail" in enabled_modules(beta.tenant)
    assert not ModuleChange.objects.filter(tenant=beta.tenant, action="disable").exists()


def test_no_change_records_nothing(alpha):
    before = ModuleChange.objects.count(), DomainEvent.objects.count()
    en(alpha.client("owner")).post("/settings/modules/", {"module": "retail", "action": "enable"})
    assert (ModuleChange.objects.count(), DomainEvent.objects.count()) == before


def test_dependency_refusal_is_explained_and_changes_nothing(alpha):
    owner = en(alpha.client("owner"))
    before = ModuleChange.objects.count()
    response = owner.post("/settings/modules/", {"module": "sales", "action": "disable"}, follow=True)
    assert "Cannot turn this off: Project sales need it." in response.content.decode()
    assert "sales" in enabled_modules(alpha.tenant)
    assert ModuleChange.objects.count() == before

    response = owner.post(
        "/settings/modules/", {"module": "core", "action": "disable"}, HTTP_HX_REQUEST="true"
    )
    assert "This module cannot be switched on or off." in response.content.decode()


# --- Users ---------------------------------------------------------------------------------------------


def _add_users(schema: str, count: int) -> None:
    with schema_context(schema):
        teams = [Team.objects.create(name=f"bulk team {i}") for i in range(3)]
        for i in range(count):
            User.objects.create_user(
                f"bulk{i}@example.com", PASSWORD, name=f"Bulk {i}", role=Role.SALES, team=teams[i % 3]
            )


def _count_queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize("url", ["/settings/users/", "/settings/teams/", "/settings/api-keys/"])
def test_settings_lists_run_constant_queries(alpha, url):
    owner = en(alpha.client("owner"))
    owner.get(url)  # warm the module cache
    small, _html = _count_queries(owner, url)
    _add_users(alpha.schema, 25)
    with schema_context(alpha.schema):
        for i in range(5):
            Team.objects.create(name=f"more {i}", manager=alpha.users["manager"])
            ApiKey.objects.create(
                name=f"k{i}", prefix=f"p{i}", key_hash=f"h{i}", user=alpha.users["owner"],
                created_by=alpha.users["owner"],
            )  # fmt: skip
    large, html = _count_queries(owner, url)
    assert large == small
    if url == "/settings/users/":
        assert "bulk24@example.com" in html and "bulk team 0" in html


def test_users_page_shows_people_with_role_team_and_status(alpha):
    html = en(alpha.client("admin")).get("/settings/users/").content.decode()
    row = found(r'<tr data-user="sales@alpha.example.com">.*?</tr>', html)
    assert "alpha sales" in row and "Sales rep" in row and "alpha team" in row and "Active" in row
    assert "Never" in row  # never logged in


def test_invitation_end_to_end(alpha, django_capture_on_commit_callbacks):
    admin = en(alpha.client("admin"))
    with schema_context(alpha.schema):
        team = Team.objects.get(name="alpha team")

    # When the admin invites a colleague
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/settings/users/invite/",
            {"email": "New.Rep@Example.com", "name": "New Rep", "role": "sales", "team": team.pk},
        )
    assert response.status_code == 302

    # Then one email goes out with a link on alpha's host that works for 7 days
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.rep@example.com"]
    assert "Alpha 有限公司" in message.subject
    link = found(r"http://alpha\.localhost/auth/invite/[\w-]+/", message.body)
    assert "7 days" in message.body and "alpha admin" in message.body
    path = link.replace("http://alpha.localhost", "")
    assert "new.rep@example.com" in admin.get("/settings/users/").content.decode()  # pending

    # The link means nothing on another workspace
    assert en(Client(HTTP_HOST="beta.localhost")).get(path).status_code == 410

    # A weak password is refused and creates nothing
    guest = en(Client(HTTP_HOST=alpha.host))
    assert "New Rep" in guest.get(path).content.decode()
    weak = guest.post(path, {"name": "New Rep", "password": "12345678", "password2": "12345678"})
    assert weak.status_code == 400
    with schema_context(alpha.schema):
        assert not User.objects.filter(email="new.rep@example.com").exists()

    # A strong one creates the user with the invited role and team, logged in
    ok = guest.post(path, {"name": "New Rep", "password": "Blue-Kettle-42", "password2": "Blue-Kettle-42"})
    assert ok.status_code == 302
    assert "New Rep" in guest.get("/").content.decode()
    with schema_context(alpha.schema):
        user = User.objects.get(email="new.rep@example.com")
        assert (user.role, user.team_id) == ("sales", team.pk)
        assert Invitation.objects.get(email="new.rep@example.com").accepted_at is not None

    # The link cannot be used twice
    again = en(Client(HTTP_HOST=alpha.host)).get(path)
    assert again.status_code == 410 and "no longer works" in again.content.decode()


def _invite(alpha, email: str) -> tuple[Invitation, str]:
    from crm.tenants.accounts.services import invitation_create

    with schema_context(alpha.schema):
        invitation, raw = invitation_create(
            actor=alpha.users["owner"], email=email, role="clerk", base_url="http://alpha.localhost/"
        )
    return invitation, raw


def test_expired_invitation_link_is_gone(alpha):
    invitation, raw = _invite(alpha, "late@example.com")
    guest = en(Client(HTTP_HOST=alpha.host))
    assert guest.get(f"/auth/invite/{raw}/").status_code == 200
    # Time travel: the link was sent more than 7 days ago
    with schema_context(alpha.schema):
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = guest.get(f"/auth/invite/{raw}/")
    assert response.status_code == 410
    posted = guest.post(
        f"/auth/invite/{raw}/", {"name": "L", "password": "Blue-Kettle-42", "password2": "Blue-Kettle-42"}
    )
    assert posted.status_code == 410
    with schema_context(alpha.schema):
        assert not User.objects.filter(email="late@example.com").exists()
    assert "late@example.com" not in en(alpha.client("owner")).get("/settings/users/").content.decode()


def test_revoked_invitation_link_is_gone(alpha):
    invitation, raw = _invite(alpha, "revoked@example.com")
    owner = en(alpha.client("owner"))
    assert owner.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 302
    assert en(Client(HTTP_HOST=alpha.host)).get(f"/auth/invite/{raw}/").status_code == 410
    assert "No pending invitations." in owner.get("/settings/users/").content.decode()


def test_invite_refuses_existing_user_and_bad_email(alpha):
    admin = en(alpha.client("admin"))
    response = admin.post("/settings/users/invite/", {"email": "sales@alpha.example.com", "role": "sales"})
    assert response.status_code == 400
    assert "already exists in this workspace" in response.content.decode()
    response = admin.post("/settings/users/invite/", {"email": "not-an-email", "role": "sales"})
    assert response.status_code == 400
    with schema_context(alpha.schema):
        assert not Invitation.objects.exists()


def test_change_role_and_team(alpha):
    admin = en(alpha.client("admin"))
    sales = alpha.users["sales2"]
    with schema_context(alpha.schema):
        team = Team.objects.get(name="alpha team")
    response = admin.post(f"/settings/users/{sales.pk}/", {"role": "manager", "team": team.pk})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        sales.refresh_from_db()
        assert (sales.role, sales.team_id) == ("manager", team.pk)
        entry = AuditEntry.objects.filter(action="user.update", target_id=str(sales.pk)).get()
        assert entry.detail["role"] == ["sales", "manager"]
    # Clearing the team works too (and leaves the role)
    admin.post(f"/settings/users/{sales.pk}/", {"role": "manager", "team": ""})
    with schema_context(alpha.schema):
        sales.refresh_from_db()
        assert (sales.role, sales.team_id) == ("manager", None)


def test_deactivation_ends_sessions_blocks_login_and_keeps_records(alpha):
    rep = alpha.client("sales")
    assert rep.get("/").status_code == 200
    owner = en(alpha.client("owner"))
    user = alpha.users["sales"]

    response = owner.post(f"/settings/users/{user.pk}/active/", {"active": "0"}, follow=True)
    assert "can no longer log in" in response.content.decode()

    # Their open session is over, and the password no longer opens the door
    assert rep.get("/").status_code == 302
    with schema_context(alpha.schema):
        from django.contrib.sessions.models import Session

        assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]
        assert User.objects.filter(pk=user.pk, is_active=False, team__name="alpha team").exists()
    fresh = en(Client(HTTP_HOST=alpha.host))
    refused = fresh.post("/auth/login/", {"username": user.email, "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in fresh.session

    # Reactivated, they can log in again
    owner.post(f"/settings/users/{user.pk}/active/", {"active": "1"})
    assert fresh.post("/auth/login/", {"username": user.email, "password": PASSWORD}).status_code == 302


def test_cannot_deactivate_yourself(alpha):
    owner = en(alpha.client("owner"))
    response = owner.post(f"/settings/users/{alpha.users['owner'].pk}/active/", {"active": "0"}, follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    with schema_context(alpha.schema):
        assert User.objects.get(pk=alpha.users["owner"].pk).is_active


# --- Teams ---------------------------------------------------------------------------------------------


def test_team_create_edit_and_cycle_refusal(alpha):
    admin = en(alpha.client("admin"))
    manager = alpha.users["manager"]
    with schema_context(alpha.schema):
        parent = Team.objects.get(name="alpha team")

    response = admin.post("/settings/teams/", {"name": "East", "manager": manager.pk, "parent": parent.pk})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        east = Team.objects.get(name="East")
        assert (east.manager_id, east.parent_id) == (manager.pk, parent.pk)
    assert "East" in admin.get("/settings/teams/").content.decode()

    # A team cannot be put inside its own sub-team
    response = admin.post(f"/settings/teams/{parent.pk}/", {"name": "alpha team", "parent": east.pk})
    assert response.status_code == 400
    assert "A team cannot be inside itself." in response.content.decode()
    # A sales rep cannot manage a team (not offered, and refused)
    response = admin.post("/settings/teams/", {"name": "West", "manager": alpha.users["sales"].pk})
    assert response.status_code == 400
    # Duplicate names are refused
    assert admin.post("/settings/teams/", {"name": "East"}).status_code == 400
    with schema_context(alpha.schema):
        assert Team.objects.get(pk=parent.pk).parent_id is None
        assert not Team.objects.filter(name="West").exists()

    # Renaming works
    assert admin.post(f"/settings/teams/{east.pk}/", {"name": "East China"}).status_code == 302
    with schema_context(alpha.schema):
        assert Team.objects.get(pk=east.pk).name == "East China"


# --- API keys ------------------------------------------------------------------------------------------


def test_api_key_shown_once_works_and_revokes(alpha):
    module_set_enabled(tenant=alpha.tenant, module="dummy", enabled=True, actor_email="t@example.com")
    owner = en(alpha.client("owner"))
    response = owner.post("/settings/api-keys/", {"name": "ERP sync"})
    html = response.content.decode()
    raw = found(r"<code[^>]*>(crm_[\w-]+)</code>", html, 1)
    assert response["Cache-Control"] == "no-store"
    assert raw not in owner.get("/settings/api-keys/").content.decode()  # shown once

    api = Client(HTTP_HOST=alpha.host)
    assert api.get("/api/v1/dummy/ping/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200
    with schema_context(alpha.schema):
        key = ApiKey.objects.get(name="ERP sync")
    assert owner.post(f"/settings/api-keys/{key.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/dummy/ping/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code in (401, 403)
    assert "Revoked" in owner.get("/settings/api-keys/").content.decode()
