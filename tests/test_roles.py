"""Role checks on the workspace settings: every settings route (enumerated from crm.tenants.urls, so new
pages are covered automatically) refuses non-administrators for GET and POST; owner-only rules hold."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from crm.tenants import urls as settings_urls
from crm.tenants.accounts.models import ApiKey, Invitation, Team, User


def en(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def settings_paths(alpha) -> list[str]:
    """Every /settings/ route with real ids of alpha's objects filled in."""
    with schema_context(alpha.schema):
        owner = alpha.users["owner"]
        ids = {
            "users": alpha.users["sales"].pk,
            "teams": Team.objects.get(name="alpha team").pk,
            "invitations": Invitation.objects.create(
                email="x@example.com", token_hash="h" * 64, invited_by=owner, expires_at="2999-01-01T00:00Z"
            ).pk,
            "api-keys": ApiKey.objects.create(
                name="k", prefix="p", key_hash="k" * 64, user=owner, created_by=owner
            ).pk,
        }
    paths = []
    for pattern in settings_urls.urlpatterns:
        route = str(pattern.pattern)
        section = route.split("/")[0]
        paths.append("/settings/" + re.sub(r"<int:pk>", str(ids.get(section, 1)), route))
    assert len(paths) >= 10
    return paths


@pytest.mark.parametrize("role", ["manager", "sales", "clerk", "warehouse", "finance"])
def test_non_admins_get_403_on_every_settings_page_and_post(alpha, role):
    client = alpha.client(role)
    for path in settings_paths(alpha):
        assert client.get(path).status_code in (403, 405), path
        assert client.post(path, {"module": "dummy", "action": "enable", "active": "0"}).status_code == 403, (
            path
        )
    # Nothing changed on the way
    from crm.tenants.selectors import enabled_modules

    assert "dummy" not in enabled_modules(alpha.tenant)
    with schema_context(alpha.schema):
        assert User.objects.get(pk=alpha.users["sales"].pk).is_active
        assert ApiKey.objects.filter(revoked_at__isnull=True).exists()


def test_anonymous_is_sent_to_login(alpha):
    client = Client(HTTP_HOST=alpha.host)
    for path in settings_paths(alpha):
        response = client.get(path)
        assert response.status_code in (302, 405), path
        if response.status_code == 302:
            assert response["Location"].startswith("/auth/login/"), path


def test_admin_manages_users_but_not_api_keys(alpha):
    admin = alpha.client("admin")
    for path in ("/settings/", "/settings/modules/", "/settings/users/", "/settings/teams/"):
        assert admin.get(path).status_code == 200, path
    assert admin.get("/settings/api-keys/").status_code == 403
    assert admin.post("/settings/api-keys/", {"name": "sneaky"}).status_code == 403


def test_settings_link_only_for_admins(alpha):
    assert 'data-testid="settings-link"' in alpha.client("owner").get("/").content.decode()
    assert 'data-testid="settings-link"' in alpha.client("admin").get("/").content.decode()
    for role in ("manager", "sales", "clerk"):
        assert 'data-testid="settings-link"' not in alpha.client(role).get("/").content.decode()


def test_only_owner_grants_owner(alpha):
    target = alpha.users["sales2"]
    admin = en(alpha.client("admin"))
    # The admin's form does not even offer it, and a forged post is refused
    assert 'value="owner"' not in admin.get(f"/settings/users/{target.pk}/").content.decode()
    assert admin.post(f"/settings/users/{target.pk}/", {"role": "owner"}).status_code == 400
    refused = admin.post("/settings/users/invite/", {"email": "boss@example.com", "role": "owner"})
    assert refused.status_code == 400
    with schema_context(alpha.schema):
        assert User.objects.get(pk=target.pk).role == "sales"
        assert not Invitation.objects.filter(email="boss@example.com").exists()

    owner = en(alpha.client("owner"))
    assert owner.post(f"/settings/users/{target.pk}/", {"role": "owner"}).status_code == 302
    with schema_context(alpha.schema):
        assert User.objects.get(pk=target.pk).role == "owner"


def test_admin_cannot_demote_or_deactivate_the_owner(alpha):
    owner_user = alpha.users["owner"]
    admin = en(alpha.client("admin"))
    response = admin.post(f"/settings/users/{owner_user.pk}/", {"role": "sales"})
    assert response.status_code == 400
    response = admin.post(f"/settings/users/{owner_user.pk}/active/", {"active": "0"}, follow=True)
    assert "Only the owner can deactivate or reactivate an owner." in response.content.decode()
    with schema_context(alpha.schema):
        owner_user.refresh_from_db()
        assert owner_user.role == "owner" and owner_user.is_active


def test_last_owner_cannot_step_down(alpha):
    owner = en(alpha.client("owner"))
    response = owner.post(f"/settings/users/{alpha.users['owner'].pk}/", {"role": "admin"})
    assert response.status_code == 400
    assert "at least one active owner" in response.content.decode()
