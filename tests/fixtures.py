"""Test harness: a real PostgreSQL with real tenant schemas, a real Redis.

Once per session: the test database is migrated (public schema), the template schema is created, and two
tenants ("alpha" and "beta", each with owner, admin, manager, rep and clerk users) are provisioned through
the same service signup uses. Each test then runs in a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

PASSWORD = "Correct-Horse-9"


@dataclass
class TenantFixture:
    tenant: Any
    host: str
    users: dict[str, Any]  # role -> user

    @property
    def schema(self) -> str:
        return str(self.tenant.schema_name)

    def client(self, role: str | None = "owner", language: str | None = None, **extra: Any) -> Client:
        """A test client on this tenant's host, logged in as the user with `role` (None: anonymous).

        Pages render in the workspace default (zh-hans) unless `language` picks one (a language cookie)."""
        client = Client(HTTP_HOST=self.host, **extra)
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        if role is not None:
            with schema_context(self.schema):
                client.force_login(self.users[role], backend="crm.tenants.accounts.backends.EmailBackend")
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        return client


def _make_tenant(slug: str, modules: list[str]) -> TenantFixture:
    from crm.platform.permissions import Role
    from crm.tenants.accounts.models import Team, User
    from crm.tenants.services import tenant_host, tenant_signup

    result = tenant_signup(
        company=f"{slug.title()} 有限公司",
        slug=slug,
        owner_name=f"{slug} owner",
        email=f"owner@{slug}.example.com",
        password=PASSWORD,
        phone="13800138000",
        modules=modules,
        # alpha and beta keep a module that is not built yet, as the demo workspaces do.
        allow_unavailable=True,
    )
    tenant = result.tenant
    users: dict[str, Any] = {}
    with schema_context(tenant.schema_name):
        users["owner"] = User.objects.get(pk=result.owner_id)
        for role in (Role.ADMIN, Role.MANAGER, Role.SALES, Role.CLERK, Role.WAREHOUSE, Role.FINANCE):
            users[str(role)] = User.objects.create_user(
                f"{role}@{slug}.example.com", PASSWORD, name=f"{slug} {role}", role=role
            )
        team = Team.objects.create(name=f"{slug} team", manager=users["manager"])
        User.objects.filter(pk__in=[users["manager"].pk, users["sales"].pk]).update(team=team)
        users["sales2"] = User.objects.create_user(
            f"sales2@{slug}.example.com", PASSWORD, name=f"{slug} sales2", role=Role.SALES
        )
        for key in list(users):
            users[key].refresh_from_db()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return TenantFixture(tenant=tenant, host=tenant_host(tenant), users=users)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    from crm.tenants.accounts.models import User
    from crm.tenants.provisioning import public_ensure, template_ensure

    with django_db_blocker.unblock():
        # A test that asks for django_db_setup without the db fixture makes pytest-django skip creating the
        # test database: refuse to write the session tenants into the development database then.
        name = connection.settings_dict["NAME"]
        assert str(name).startswith("test_"), f"session fixtures refuse to write into database {name!r}"
        cache.clear()
        template_ensure()
        public_ensure()  # the public site and console answer on the base domain ("localhost")
        world = {
            "alpha": _make_tenant("alpha", ["retail", "project"]),
            "beta": _make_tenant("beta", ["retail", "trade"]),
            "operator": User.objects.create_user(
                "ops@platform.example.com", PASSWORD, name="Operator", role="operator", is_staff=True
            ),
        }
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    yield world


@pytest.fixture
def world(django_db_setup: dict[str, Any], db: None) -> dict[str, Any]:
    return django_db_setup


@pytest.fixture
def alpha(world: dict[str, Any]) -> TenantFixture:
    world["alpha"].tenant.refresh_from_db()
    return world["alpha"]  # type: ignore[no-any-return]


@pytest.fixture
def beta(world: dict[str, Any]) -> TenantFixture:
    world["beta"].tenant.refresh_from_db()
    return world["beta"]  # type: ignore[no-any-return]


@pytest.fixture
def operator(world: dict[str, Any]) -> Any:
    return world["operator"]


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture(autouse=True)
def _public_schema_and_clean_cache() -> Iterator[None]:
    """Each test starts in the public schema; cached state (module sets, throttles) never outlives the
    transaction it was computed in."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    yield
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    cache.clear()


def set_available(slug: str, available: bool) -> Any:
    """Replace the registry's manifest of `slug` by a copy with `available` set (what a later issue does by
    flipping the flag in the module's manifest.py). Returns the original manifest, to put back with
    `restore_manifest`. The registry is closed after start-up, so the swap goes under `register`."""
    import dataclasses

    from crm.platform.registry import registry

    original = registry.get(slug)
    registry._modules[slug] = dataclasses.replace(original, available=available)
    return original


def restore_manifest(manifest: Any) -> None:
    from crm.platform.registry import registry

    registry._modules[manifest.slug] = manifest


@pytest.fixture
def dummy_unavailable() -> Iterator[None]:
    """The dummy module is coming soon for the duration of the test."""
    original = set_available("dummy", False)
    try:
        yield
    finally:
        restore_manifest(original)
