"""Sign-in per workspace host: login, cross-tenant refusal, lockout, password reset, profile, language."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from crm.tenants.accounts.models import User
from crm.tenants.accounts.tokens import tenant_token_generator
from tests.fixtures import PASSWORD


def guest(tenant, language: str | None = "en") -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- Login ---------------------------------------------------------------------------------------------


def test_login_on_own_host(alpha):
    client = guest(alpha)
    page = client.get("/auth/login/")
    assert page.status_code == 200 and "Alpha 有限公司" in page.content.decode()
    response = client.post("/auth/login/", {"username": " Sales@Alpha.example.com ", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in(client)
    assert "alpha sales" in client.get("/").content.decode()


def test_user_of_a_cannot_log_in_on_b(alpha, beta):
    # Same password, right email, wrong workspace: beta's schema has no such user
    client = guest(beta)
    response = client.post("/auth/login/", {"username": "owner@alpha.example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "not right for this workspace" in response.content.decode()
    assert not logged_in(client)
    # and an alpha session cookie means nothing on beta's host
    alpha_session = alpha.client("owner").cookies[settings.SESSION_COOKIE_NAME].value
    intruder = guest(beta)
    intruder.cookies[settings.SESSION_COOKIE_NAME] = alpha_session
    assert intruder.get("/").status_code == 302


def test_lockout_after_five_failures_per_account_and_workspace(alpha, beta):
    client = guest(alpha)
    statuses = [
        client.post("/auth/login/", {"username": "sales@alpha.example.com", "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429  # the fifth failure locks the account

    # Now even the right password is refused with the lockout page
    locked = client.post("/auth/login/", {"username": "sales@alpha.example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()
    assert not logged_in(client)

    # Changing the letter case does not buy fresh attempts
    shouting = client.post("/auth/login/", {"username": "SALES@Alpha.example.com", "password": PASSWORD})
    assert shouting.status_code == 429

    # Other accounts, and the same address on another workspace, are not affected
    other = guest(alpha)
    assert (
        other.post("/auth/login/", {"username": "admin@alpha.example.com", "password": PASSWORD}).status_code
        == 302
    )
    on_beta = guest(beta)
    assert (
        on_beta.post("/auth/login/", {"username": "sales@beta.example.com", "password": PASSWORD}).status_code
        == 302
    )


def test_redirect_to_next_after_login_stays_on_site(alpha):
    client = guest(alpha)
    response = client.post(
        "/auth/login/?next=/settings/",
        {"username": "owner@alpha.example.com", "password": PASSWORD, "next": "/settings/"},
    )
    assert response["Location"] == "/settings/"
    evil = guest(alpha).post(
        "/auth/login/",
        {"username": "owner@alpha.example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert evil["Location"] == "/"


def test_logout(alpha):
    client = alpha.client("sales")
    assert client.post("/auth/logout/").status_code == 302
    assert client.get("/").status_code == 302


# --- Password reset ------------------------------------------------------------------------------------


def test_password_reset_flow_uses_the_tenant_host(alpha, beta):
    client = guest(alpha)
    response = client.post("/auth/password-reset/", {"email": "sales@alpha.example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Alpha 有限公司" in mail.outbox[0].subject
    link = re.search(r"http://alpha\.localhost(/auth/reset/[^/]+/[^/]+/)", str(body))
    assert link, body

    # Opening the link leads to the form; the new password must be strong
    form_page = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    done = client.post(set_url, {"new_password1": "Fresh-Tea-Pot-7", "new_password2": "Fresh-Tea-Pot-7"})
    assert done.status_code == 302

    # The new password works, the old one not, and the link is spent
    assert (
        guest(alpha)
        .post("/auth/login/", {"username": "sales@alpha.example.com", "password": PASSWORD})
        .status_code
        == 200
    )
    assert (
        guest(alpha)
        .post("/auth/login/", {"username": "sales@alpha.example.com", "password": "Fresh-Tea-Pot-7"})
        .status_code
        == 302
    )
    spent = guest(alpha).get(link.group(1), follow=True)
    assert 'data-testid="reset-invalid"' in spent.content.decode()
    # Beta's user with the same role keeps their password
    with schema_context(beta.schema):
        assert User.objects.get(email="sales@beta.example.com").check_password(PASSWORD)


def test_password_reset_only_mails_users_of_this_workspace(alpha):
    response = guest(alpha).post("/auth/password-reset/", {"email": "sales@beta.example.com"})
    assert response.status_code == 302  # same answer, so addresses cannot be probed
    assert mail.outbox == []


def test_reset_token_from_a_fails_on_b(alpha, beta):
    # Given a beta user who looks exactly like alpha's owner to Django's stock token (same id, email,
    # password hash and last login), so only the workspace binding can tell them apart
    source = alpha.users["owner"]
    with schema_context(beta.schema):
        twin = User.objects.get(pk=source.pk)
        User.objects.filter(pk=twin.pk).update(
            email=source.email, password=source.password, last_login=source.last_login
        )
        twin.refresh_from_db()
    with schema_context(alpha.schema):
        token = tenant_token_generator.make_token(source)
        assert tenant_token_generator.check_token(source, token)
    with schema_context(beta.schema):
        # Django's generator alone would accept it on beta; the tenant-bound one does not
        assert PasswordResetTokenGenerator().check_token(
            twin, PasswordResetTokenGenerator().make_token(source)
        )
        assert not tenant_token_generator.check_token(twin, token)

    uid = urlsafe_base64_encode(force_bytes(source.pk))
    response = guest(beta).get(f"/auth/reset/{uid}/{token}/", follow=True)
    assert 'data-testid="reset-invalid"' in response.content.decode()
    response = guest(alpha).get(f"/auth/reset/{uid}/{token}/", follow=True)
    assert "Choose a new password" in response.content.decode()


# --- Profile and language ------------------------------------------------------------------------------


def _lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match
    return match.group(1)


def test_language_falls_back_to_workspace_default(alpha):
    # No user, no cookie: the workspace default (Chinese, chosen at signup)
    page = guest(alpha, language=None).get("/auth/login/")
    assert _lang(page) == "zh-hans"
    assert "密码" in page.content.decode()  # Django's own zh-Hans catalogue for "Password"
    # A workspace that chose English at signup
    alpha.tenant.default_language = "en"
    alpha.tenant.save(update_fields=["default_language"])
    page = guest(alpha, language=None).get("/auth/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert _lang(page) == "en" and "Password" in page.content.decode()


def test_language_cookie_beats_workspace_default(alpha):
    page = guest(alpha, language="en").get("/auth/login/")
    assert _lang(page) == "en" and "Password" in page.content.decode() and "密码" not in page.content.decode()
    page = guest(alpha, language="zh-hans").get("/auth/login/")
    assert _lang(page) == "zh-hans"


def test_user_language_beats_cookie_and_default(alpha):
    client = alpha.client("sales")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    with schema_context(alpha.schema):
        User.objects.filter(pk=alpha.users["sales"].pk).update(language="en")
    page = client.get("/auth/profile/")
    assert _lang(page) == "en"


def test_profile_saves_name_phone_and_language(alpha):
    client = alpha.client("sales")
    response = client.post("/auth/profile/", {"name": "Li Lei", "phone": "138 0013 8000", "language": "en"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    with schema_context(alpha.schema):
        user = User.objects.get(pk=alpha.users["sales"].pk)
        assert (user.name, user.phone, user.language) == ("Li Lei", "13800138000", "en")
    assert _lang(client.get("/auth/profile/")) == "en"

    # Back to the workspace default: the cookie goes too
    response = client.post("/auth/profile/", {"name": "Li Lei", "phone": "", "language": ""})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""
    client.cookies.pop(settings.LANGUAGE_COOKIE_NAME, None)
    assert _lang(client.get("/auth/profile/")) == "zh-hans"

    # Bad input changes nothing
    bad = client.post("/auth/profile/", {"name": "Li Lei", "phone": "12345", "language": "fr"})
    assert bad.status_code == 400
    with schema_context(alpha.schema):
        assert User.objects.get(pk=alpha.users["sales"].pk).phone == ""


def test_header_language_switch_is_remembered_on_the_user(alpha):
    client = alpha.client("sales")
    response = client.post("/auth/language/", {"language": "en", "next": "/auth/profile/"})
    assert response.status_code == 302 and response["Location"] == "/auth/profile/"
    with schema_context(alpha.schema):
        assert User.objects.get(pk=alpha.users["sales"].pk).language == "en"
    # Even with a stale Chinese cookie the saved choice wins
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert _lang(client.get("/auth/profile/")) == "en"
    # Off-site "next" is ignored
    away = client.post("/auth/language/", {"language": "zh-hans", "next": "https://evil.example/"})
    assert away["Location"] == "/"


def test_password_reset_lifts_a_lockout(alpha):
    client = guest(alpha)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/auth/login/", {"username": "sales@alpha.example.com", "password": "wrong"})
    assert (
        client.post("/auth/login/", {"username": "sales@alpha.example.com", "password": PASSWORD}).status_code
        == 429
    )

    client.post("/auth/password-reset/", {"email": "sales@alpha.example.com"})
    link = re.search(r"http://alpha\.localhost(/auth/reset/[^/]+/[^/]+/)", str(mail.outbox[0].body))
    assert link
    set_url = client.get(link.group(1), follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": "Fresh-Tea-Pot-7", "new_password2": "Fresh-Tea-Pot-7"})
    fresh = guest(alpha)
    assert (
        fresh.post(
            "/auth/login/", {"username": "sales@alpha.example.com", "password": "Fresh-Tea-Pot-7"}
        ).status_code
        == 302
    )
