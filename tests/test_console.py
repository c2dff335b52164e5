"""Operator console: operator login (lockout, TOTP), tenant list and detail, suspend, comp, impersonation."""

from __future__ import annotations

import base64
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.platform.console import services, totp
from crm.platform.models import ImpersonationSession, OperatorAudit
from crm.tenants.accounts.models import AuditEntry, User
from crm.tenants.models import ModuleChange, Tenant, TenantModule, TenantStatus
from crm.tenants.selectors import enabled_modules
from tests.fixtures import PASSWORD

CONSOLE_HOST = "localhost"


def console_client(user: Any) -> Client:
    client = Client(HTTP_HOST=CONSOLE_HOST)
    client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    return client


def new_operator(email: str = "ops2@platform.example.com", **extra: Any) -> User:
    user = services.operator_create(email=email, name="Second Operator", password=PASSWORD)
    if extra:
        User.objects.filter(pk=user.pk).update(**extra)
        user.refresh_from_db()
    return user


def wrong_code(secret: str) -> str:
    """A well-formed code that is not valid in any accepted step right now."""
    now = time.time()
    valid = {totp.totp(secret, at=now + d * totp.STEP_SECONDS) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def login_post(client: Client, email: str, password: str) -> Any:
    return client.post("/console/login/", {"username": email, "password": password})


# --- TOTP ------------------------------------------------------------------------------------------------

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("at", "expected"),
    [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")],
)
def test_totp_matches_rfc6238_sha1_test_vectors(at, expected):
    # RFC 6238 appendix B, SHA1 column (8 digits); our 6-digit codes are the last six of the same number.
    assert totp.totp(RFC_SECRET, at=at, digits=8) == expected
    assert totp.totp(RFC_SECRET, at=at) == expected[-6:]


def test_totp_accepts_current_and_adjacent_steps_only():
    secret = totp.generate_secret()
    now = 1_700_000_000.0
    current = totp.totp(secret, at=now)
    assert totp.match(secret, current, at=now) == totp.counter_at(now)
    assert totp.match(secret, totp.totp(secret, at=now - 30), at=now) is not None  # clock drift, one step
    assert totp.match(secret, totp.totp(secret, at=now - 90), at=now) is None  # expired
    wrong = f"{(int(current) + 1) % 1_000_000:06d}"
    assert totp.match(secret, wrong, at=now) is None
    assert totp.match(secret, "abcdef", at=now) is None
    uri = totp.provisioning_uri(secret, account="ops@example.com", issuer="SMB CRM")
    assert uri.startswith("otpauth://totp/SMB%20CRM%3Aops%40example.com?") and f"secret={secret}" in uri


def test_totp_code_cannot_be_used_twice(world):
    operator = new_operator(totp_secret=totp.generate_secret())
    code = totp.totp(operator.totp_secret)
    assert services.operator_totp_check(user=operator, code=code) is True
    assert services.operator_totp_check(user=operator, code=code) is False


# --- login, access ---------------------------------------------------------------------------------------


def test_anonymous_and_non_operators_cannot_see_the_console(world, alpha):
    response = Client(HTTP_HOST=CONSOLE_HOST).get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
    # A public-schema account that is not an operator is refused even when logged in.
    someone = User.objects.create_user("someone@platform.example.com", PASSWORD, name="Someone", role="sales")
    assert console_client(someone).get("/console/").status_code == 403
    assert console_client(someone).get(f"/console/tenants/{alpha.tenant.pk}/").status_code == 403
    client = Client(HTTP_HOST=CONSOLE_HOST)
    response = login_post(client, someone.email, PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    # The console does not exist on a tenant host at all.
    assert alpha.client("owner").get("/console/").status_code == 404


def test_tenant_user_credentials_do_not_work_on_the_console(alpha):
    client = Client(HTTP_HOST=CONSOLE_HOST)
    response = login_post(client, alpha.users["owner"].email, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/console/").status_code == 302


def test_operator_logs_in_with_password_and_out(operator):
    client = Client(HTTP_HOST=CONSOLE_HOST)
    response = login_post(client, operator.email.upper(), PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


def test_lockout_after_repeated_failures(operator):
    from axes.models import AccessAttempt

    client = Client(HTTP_HOST=CONSOLE_HOST)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login_post(client, operator.email, "wrong-password-1").status_code == 200
    response = login_post(client, operator.email, "wrong-password-1")
    assert response.status_code == 429
    # Now even the right password is refused until the cool-off ends.
    response = login_post(client, operator.email, PASSWORD)
    assert response.status_code == 429 and 'data-testid="locked"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username=operator.email).exists()


def test_second_factor_is_asked_after_the_password(world):
    operator = new_operator(totp_secret=totp.generate_secret())
    client = Client(HTTP_HOST=CONSOLE_HOST)
    response = login_post(client, operator.email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/console/login/verify/"
    assert client.get("/console/").status_code == 302  # not logged in yet
    response = client.post("/console/login/verify/", {"code": wrong_code(operator.totp_secret)})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post("/console/login/verify/", {"code": totp.totp(operator.totp_secret)})
    assert response.status_code == 302
    assert client.get("/console/").status_code == 200


def test_wrong_codes_count_towards_the_lockout(world):
    operator = new_operator(totp_secret=totp.generate_secret())
    client = Client(HTTP_HOST=CONSOLE_HOST)
    login_post(client, operator.email, PASSWORD)
    wrong = wrong_code(operator.totp_secret)
    statuses = [
        client.post("/console/login/verify/", {"code": wrong}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429
    # Locked: the password alone is no longer accepted either.
    assert login_post(Client(HTTP_HOST=CONSOLE_HOST), operator.email, PASSWORD).status_code == 429


def test_enrolment_shows_secret_and_requires_a_valid_code(world):
    operator = new_operator()
    client = console_client(operator)
    page = client.get("/console/2fa/").content.decode()
    secret = re.search(r'data-testid="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)  # type: ignore[union-attr]
    assert "otpauth://totp/" in page
    assert client.post("/console/2fa/", {"code": "12345"}).status_code == 200
    operator.refresh_from_db()
    assert operator.totp_secret == ""
    response = client.post("/console/2fa/", {"code": totp.totp(secret)})
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.totp_secret == secret
    assert OperatorAudit.objects.filter(operator=operator, action="operator.totp_enabled").exists()


def test_required_second_factor_forces_enrolment_first(world, settings):
    settings.OPERATOR_2FA_REQUIRED = True
    operator = new_operator()
    client = Client(HTTP_HOST=CONSOLE_HOST)
    response = login_post(client, operator.email, PASSWORD)
    assert response["Location"] == "/console/2fa/"
    assert client.get("/console/")["Location"] == "/console/2fa/"
    assert client.get("/console/2fa/").status_code == 200


def test_create_operator_command(world):
    from django.core.management import CommandError, call_command

    call_command("create_operator", email="New.Ops@Platform.example.com", name="New", password=PASSWORD)
    created = User.objects.get(email="new.ops@platform.example.com")
    assert created.role == "operator" and created.check_password(PASSWORD)
    with pytest.raises(CommandError):
        call_command("create_operator", email="weak@platform.example.com", name="Weak", password="12345678")
    assert not User.objects.filter(email="weak@platform.example.com").exists()


# --- tenant list -----------------------------------------------------------------------------------------


def _rows(response: Any) -> list[str]:
    return re.findall(r'data-testid="tenant-row" data-slug="([^"]+)"', response.content.decode())


def _user_counts(response: Any) -> dict[str, int]:
    pattern = r'data-slug="([^"]+)".*?data-testid="user-count">(\d+)<'
    return {slug: int(n) for slug, n in re.findall(pattern, response.content.decode(), flags=re.S)}


def test_list_search_and_filter(operator, alpha, beta):
    Tenant.objects.create(schema_name="pool_listtest", status=TenantStatus.POOL)  # a spare: no customer
    client = console_client(operator)
    response = client.get("/console/")
    assert set(_rows(response)) == {"alpha", "beta"}  # template and pool rows are not customers
    page = response.content.decode()
    pool = Tenant.objects.filter(status=TenantStatus.POOL).count()
    assert pool >= 1 and f'data-testid="pool-size">{pool}<' in page
    assert 'data-testid="signups-7d">2<' in page
    assert _rows(client.get("/console/", {"q": "ALPHA"})) == ["alpha"]
    assert _rows(client.get("/console/", {"q": "owner@beta"})) == ["beta"]
    assert _rows(client.get("/console/", {"q": "nothing-like-this"})) == []
    services.tenant_suspend(actor=operator, tenant=beta.tenant, reason="Fraud check")
    assert _rows(client.get("/console/", {"status": "suspended"})) == ["beta"]
    assert _rows(client.get("/console/", {"status": "trial"})) == ["alpha"]
    # User counts come from each tenant's own schema (active users only).
    with schema_context(alpha.schema):
        expected = User.objects.filter(is_active=True).count()
        User.objects.filter(pk=alpha.users["sales2"].pk).update(is_active=False)
    assert _user_counts(client.get("/console/", {"q": "alpha"})) == {"alpha": expected - 1}


def _add_listed_tenants(count: int, source_schema: str) -> None:
    """Tenants whose schema holds just a copy of a real accounts_user table: all the list page reads from
    a tenant schema. Cloning full schemas here would cost seconds per tenant for the same coverage."""
    with connection.cursor() as cursor:
        for i in range(count):
            schema = f"t_listtest_{i}"
            cursor.execute(f'CREATE SCHEMA "{schema}"')
            cursor.execute(f'CREATE TABLE "{schema}".accounts_user (LIKE "{source_schema}".accounts_user)')
            cursor.execute(
                f'INSERT INTO "{schema}".accounts_user SELECT * FROM "{source_schema}".accounts_user'
            )
            tenant = Tenant.objects.create(
                schema_name=schema,
                slug=f"listtest-{i}",
                name=f"List test {i}",
                status=TenantStatus.ACTIVE,
                owner_email=f"owner{i}@list.example.com",
            )
            TenantModule.objects.create(tenant=tenant, module="trade", enabled=True)
            TenantModule.objects.create(tenant=tenant, module="retail", comp=True)


def test_list_query_count_is_constant(operator, alpha, beta):
    client = console_client(operator)
    client.get("/console/")  # warm up (session, content types)
    with CaptureQueriesContext(connection) as small:
        response = client.get("/console/")
    assert len(_rows(response)) == 2
    _add_listed_tenants(10, alpha.schema)
    with CaptureQueriesContext(connection) as large:
        response = client.get("/console/")
    assert len(_rows(response)) == 12
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
    with schema_context(alpha.schema):
        alpha_users = User.objects.filter(is_active=True).count()
    counts = _user_counts(response)
    assert all(counts[f"listtest-{i}"] == alpha_users for i in range(10))  # copies of alpha's users


# --- tenant detail and actions ---------------------------------------------------------------------------


def test_tenant_detail_shows_profile_modules_users_and_history(operator, alpha):
    client = console_client(operator)
    page = client.get(f"/console/tenants/{alpha.tenant.pk}/").content.decode()
    assert alpha.tenant.name in page and alpha.tenant.owner_email in page
    assert 'data-module="retail"' in page
    for user in alpha.users.values():
        assert f'data-user="{user.email}"' in page
    assert "signup" in page  # module change log entries made at signup
    template = Tenant.objects.get(status=TenantStatus.TEMPLATE)
    assert client.get(f"/console/tenants/{template.pk}/").status_code == 404


def test_suspend_shows_suspended_page_and_reactivate_restores(operator, alpha):
    client = console_client(operator)
    url = f"/console/tenants/{alpha.tenant.pk}/suspend/"
    assert client.get(url).status_code == 405
    # A reason is required; bad input changes nothing.
    assert client.post(url, {"reason": "  "}).status_code == 400
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.TRIAL
    with schema_context(alpha.schema):
        users_before = User.objects.count()
    assert client.post(url, {"reason": "Unpaid since March"}).status_code == 302
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.SUSPENDED
    assert OperatorAudit.objects.filter(
        tenant=alpha.tenant, action="tenant.suspend", detail__reason="Unpaid since March"
    ).exists()

    rep = alpha.client("sales")
    page = rep.get("/")
    assert page.status_code == 403 and 'data-testid="suspended"' in page.content.decode()
    api = rep.get("/api/v1/me/")
    assert api.status_code == 403 and api.json()["error"]["code"] == "tenant_suspended"
    with schema_context(alpha.schema):
        assert User.objects.count() == users_before  # nothing deleted
    assert TenantModule.objects.filter(tenant=alpha.tenant, enabled=True).exists()

    assert client.post(f"/console/tenants/{alpha.tenant.pk}/reactivate/").status_code == 302
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.TRIAL
    assert rep.get("/").status_code == 200
    assert OperatorAudit.objects.filter(tenant=alpha.tenant, action="tenant.reactivate").exists()


def test_comp_enables_module_and_its_routes(operator, alpha):
    client = console_client(operator)
    user = alpha.client("owner")
    assert user.get("/dummy/").status_code == 404
    url = f"/console/tenants/{alpha.tenant.pk}/comp/"
    assert client.post(url, {"module": "dummy", "comp": "1", "reason": "Pilot"}).status_code == 302
    assert "dummy" in enabled_modules(alpha.tenant)
    assert user.get("/dummy/").status_code == 200
    assert user.get("/api/v1/dummy/ping/").json() == {"dummy": "pong"}
    change = ModuleChange.objects.get(tenant=alpha.tenant, module="dummy")
    assert (change.action, change.actor_kind, change.actor_email) == ("comp_on", "operator", operator.email)
    assert OperatorAudit.objects.filter(
        tenant=alpha.tenant, action="module.comp_on", detail__module="dummy"
    ).exists()
    # An unknown module changes nothing.
    assert client.post(url, {"module": "nope", "comp": "1"}).status_code == 400

    assert client.post(url, {"module": "dummy", "comp": "0"}).status_code == 302
    assert "dummy" not in enabled_modules(alpha.tenant)
    assert user.get("/dummy/").status_code == 404
    assert OperatorAudit.objects.filter(tenant=alpha.tenant, action="module.comp_off").exists()


# --- impersonation ---------------------------------------------------------------------------------------


def _start(
    client: Client, tenant: Any, user: Any, reason: str = "Customer asked for help with import"
) -> Any:
    return client.post(f"/console/tenants/{tenant.pk}/impersonate/", {"user_id": user.pk, "reason": reason})


def _handoff_path(location: str, fixture: Any) -> str:
    """The path of the one-time link, after checking it points at the tenant's own host."""
    url = urlsplit(location)
    assert url.hostname == fixture.host and url.path.startswith("/auth/handoff/"), location
    return url.path


def test_impersonation_start_banner_and_end_are_audited(operator, alpha):
    client = console_client(operator)
    target = alpha.users["sales"]
    assert _start(client, alpha.tenant, target, reason="short").status_code == 400  # reason too short
    assert not ImpersonationSession.objects.filter(tenant=alpha.tenant).exists()

    response = _start(client, alpha.tenant, target)
    assert response.status_code == 302
    session = ImpersonationSession.objects.get(tenant=alpha.tenant)
    assert (session.operator_id, session.target_user_id, session.target_email) == (
        operator.pk,
        target.pk,
        target.email,
    )
    assert session.reason == "Customer asked for help with import" and session.started_at is None
    assert OperatorAudit.objects.filter(
        tenant=alpha.tenant, action="impersonation.start", detail__session=session.pk, detail__owner=False
    ).exists()

    tenant_browser = Client(HTTP_HOST=alpha.host)
    path = _handoff_path(response["Location"], alpha)
    assert tenant_browser.get(path).status_code == 302
    home = tenant_browser.get("/").content.decode()
    assert 'data-testid="impersonation-banner"' in home and operator.email in home and target.email in home
    session.refresh_from_db()
    assert session.started_at is not None and session.token_used
    with schema_context(alpha.schema):
        start = AuditEntry.objects.get(action="impersonation.start")
        assert start.actor_id == target.pk and operator.email in start.actor_label

    # The link works once.
    again = Client(HTTP_HOST=alpha.host)
    again.get(path)
    assert "_auth_user_id" not in again.session

    ended = tenant_browser.post("/auth/impersonation/end/")
    assert ended.status_code == 302 and ended["Location"].endswith("/console/")
    session.refresh_from_db()
    assert session.ended_at is not None
    with schema_context(alpha.schema):
        assert AuditEntry.objects.filter(action="impersonation.end", detail__session=session.pk).exists()
    assert OperatorAudit.objects.filter(tenant=alpha.tenant, action="impersonation.end").exists()
    assert tenant_browser.get("/").status_code == 302  # logged out on the tenant host


def test_impersonation_token_for_one_tenant_does_not_work_on_another(operator, alpha, beta):
    response = _start(console_client(operator), alpha.tenant, alpha.users["sales"])
    path = _handoff_path(response["Location"], alpha)
    other = Client(HTTP_HOST=beta.host)
    other.get(path)
    assert "_auth_user_id" not in other.session
    assert ImpersonationSession.objects.get(tenant=alpha.tenant).started_at is None


def test_owner_is_flagged_and_deactivated_user_refused(operator, alpha):
    client = console_client(operator)
    assert _start(client, alpha.tenant, alpha.users["owner"]).status_code == 302
    assert OperatorAudit.objects.filter(
        tenant=alpha.tenant, action="impersonation.start", detail__owner=True
    ).exists()
    page = client.get(f"/console/tenants/{alpha.tenant.pk}/").content.decode()
    assert "badge warn" in page

    with schema_context(alpha.schema):
        User.objects.filter(pk=alpha.users["sales2"].pk).update(is_active=False)
    before = ImpersonationSession.objects.count()
    assert _start(client, alpha.tenant, alpha.users["sales2"]).status_code == 400
    assert ImpersonationSession.objects.count() == before


def test_services_refuse_non_operators(alpha):
    from crm.platform.errors import PermissionDenied

    with schema_context(alpha.schema):
        owner = User.objects.get(pk=alpha.users["owner"].pk)
    with pytest.raises(PermissionDenied):
        services.tenant_suspend(actor=owner, tenant=alpha.tenant, reason="I want to")
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.TRIAL
