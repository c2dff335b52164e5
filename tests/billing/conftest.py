"""Billing test helpers: a fake Stripe API on loopback (session-wide), Stripe mode on demand, and helpers
that write module history at chosen times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from tests.billing.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.fixtures import restore_manifest, set_available


@pytest.fixture(autouse=True)
def sellable_modes_available(request: pytest.FixtureRequest) -> Iterator[None]:
    """The billing arithmetic here is hand-computed with the price list of all seven sales modes, six of
    which are not built yet (coming soon, never billed). These tests are about the arithmetic, so the
    modules they bill are made available for the test; tests marked `unbuilt` keep the real flags and test
    that coming-soon modules are not billed."""
    from crm.platform.registry import registry

    if request.node.get_closest_marker("unbuilt"):
        yield
        return
    originals = [set_available(m.slug, True) for m in registry.sellable() if not m.available]
    try:
        yield
    finally:
        for manifest in originals:
            restore_manifest(manifest)


@pytest.fixture(autouse=True)
def public_host(world: Any) -> None:
    """The public site (webhook, operator console) is the public schema's tenant row, routed by the base
    domain; the shared fixtures do not create it yet (same as tests/test_console.py)."""
    from crm.tenants.models import Domain, Tenant

    public, _created = Tenant.objects.get_or_create(schema_name="public", defaults={"name": "platform"})
    Domain.objects.get_or_create(domain="localhost", defaults={"tenant": public, "is_primary": True})


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server: FakeStripe, settings: Any) -> FakeStripe:
    """Stripe mode: the official client pointed at the fake; a clean fake for each test."""
    fake_stripe_server.reset()
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe_server.url
    return fake_stripe_server


@pytest.fixture
def offline(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""


def deliver(client: Client, fake: FakeStripe, event: dict[str, Any], *, secret: str | None = None) -> Any:
    body, header = fake.signed(event, **({"secret": secret} if secret else {}))
    return client.post(
        "/billing/stripe/webhook/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def history(tenant: Any, module: str, steps: list[tuple[datetime, str]]) -> None:
    """Replace a tenant's module history with (time, action) steps, as the tenants app would have written."""
    from crm.tenants.models import ModuleChange

    ModuleChange.objects.filter(tenant=tenant, module=module).delete()
    for at, action in steps:
        row = ModuleChange.objects.create(tenant=tenant, module=module, action=action, actor_kind="system")
        ModuleChange.objects.filter(pk=row.pk).update(created_at=at)
