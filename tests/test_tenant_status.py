"""tenant_set_status: the one place a tenant's status changes, with allowed transitions, a domain event
for each change, and a translated refusal that changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from crm.platform.errors import ServiceError
from crm.platform.models import DomainEvent
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import STATUS_TRANSITIONS, tenant_reactivate, tenant_set_status, tenant_suspend

ALL = [s.value for s in TenantStatus]


def _put(tenant: Tenant, status: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status


def _events(tenant: Tenant) -> list[tuple[str, dict]]:
    rows = DomainEvent.objects.filter(tenant=tenant, name__startswith="tenant.")
    rows = rows.exclude(name="tenant.created")
    return [(e.name, e.payload) for e in rows.order_by("id")]


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        ("trial", "active", "tenant.activated"),
        ("trial", "past_due", "tenant.past_due"),
        ("active", "past_due", "tenant.past_due"),
        ("past_due", "active", "tenant.active"),
        ("past_due", "suspended", "tenant.suspended"),
        ("suspended", "active", "tenant.reactivated"),
        ("suspended", "trial", "tenant.reactivated"),
    ],
)
def test_allowed_transitions_change_the_status_and_record_it(alpha, old, new, event):
    tenant = alpha.tenant
    _put(tenant, old)
    assert tenant_set_status(tenant=tenant, status=new, by="billing", reason="test") is True
    assert Tenant.objects.get(pk=tenant.pk).status == new == tenant.status
    assert _events(tenant) == [(event, {"from": old, "to": new, "by": "billing", "reason": "test"})]


def test_trial_to_active_stamps_the_activation_once(alpha):
    tenant = alpha.tenant
    assert tenant.activated_at is None
    tenant_set_status(tenant=tenant, status="active", by="billing")
    assert Tenant.objects.get(pk=tenant.pk).activated_at is not None


REFUSED = [
    (old, new)
    for old in ALL
    for new in ALL
    if old != new and new not in STATUS_TRANSITIONS.get(old, frozenset())
] + [("suspended", "closed")]  # allowed only while closing


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_refused_transitions_change_nothing(alpha, old, new):
    tenant = alpha.tenant
    _put(tenant, old)
    before = Tenant.objects.get(pk=tenant.pk).updated_at
    with translation.override("en"), pytest.raises(ServiceError) as err:
        tenant_set_status(tenant=tenant, status=new, by="test")
    assert err.value.code == "bad_transition"
    assert "cannot go from" in str(err.value.message)
    row = Tenant.objects.get(pk=tenant.pk)
    assert row.status == old == tenant.status and row.updated_at == before
    assert _events(tenant) == []


def test_refusal_is_translated(alpha):
    """The refusal is built with gettext at call time: in Chinese it names the statuses in Chinese."""
    _put(alpha.tenant, "active")
    with translation.override("zh-hans"), pytest.raises(ServiceError) as err:
        tenant_set_status(tenant=alpha.tenant, status="pool", by="test")
    with translation.override("zh-hans"):
        labels = str(TenantStatus.ACTIVE.label), str(TenantStatus.POOL.label)
    assert all(label in str(err.value.message) for label in labels)
    assert labels != ("Active", "Spare (pool)")


def test_the_rules_themselves():
    """Schemas that are not customers never move; nothing moves into them; closed only from suspended."""
    for frozen in ("template", "pool", "platform", "closed"):
        assert not STATUS_TRANSITIONS.get(frozen)
    targets = set().union(*STATUS_TRANSITIONS.values())
    assert not targets & {"template", "pool", "platform"}
    assert {old for old, allowed in STATUS_TRANSITIONS.items() if "closed" in allowed} == {"suspended"}


def test_closing_only_when_asked(alpha):
    _put(alpha.tenant, "suspended")
    assert tenant_set_status(tenant=alpha.tenant, status="closed", by="operator:x", closing=True)
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "closed"
    assert [name for name, _payload in _events(alpha.tenant)] == ["tenant.closed"]


def test_same_status_is_a_no_op(alpha):
    _put(alpha.tenant, "active")
    assert tenant_set_status(tenant=alpha.tenant, status="active", by="billing") is False
    assert _events(alpha.tenant) == []


def test_suspend_and_reactivate_go_through_it(alpha):
    tenant = alpha.tenant
    _put(tenant, "active")
    tenant_suspend(tenant=tenant, reason="overdue invoice M1", by_billing=True)
    row = Tenant.objects.get(pk=tenant.pk)
    assert (row.status, row.suspended_reason, row.suspended_by_billing) == (
        "suspended",
        "overdue invoice M1",
        True,
    )
    # Suspending again only updates the reason: the retention clock (first tenant.suspended) keeps running.
    tenant_suspend(tenant=tenant, reason="operator review", by_billing=False)
    row = Tenant.objects.get(pk=tenant.pk)
    assert (row.suspended_reason, row.suspended_by_billing) == ("operator review", False)
    Tenant.objects.filter(pk=tenant.pk).update(trial_ends_at=timezone.now() - timedelta(days=1))
    tenant.trial_ends_at = timezone.now() - timedelta(days=1)
    tenant_reactivate(tenant=tenant)
    row = Tenant.objects.get(pk=tenant.pk)
    assert (row.status, row.suspended_reason, row.suspended_by_billing) == ("active", "", False)
    names = [(name, payload["by"]) for name, payload in _events(tenant)]
    assert names == [("tenant.suspended", "billing"), ("tenant.reactivated", "operator")]
    with pytest.raises(ServiceError):
        tenant_reactivate(tenant=tenant)
    _put(tenant, "pool")
    with pytest.raises(ServiceError):
        tenant_suspend(tenant=tenant, reason="no")


def test_billing_moves_status_through_it(alpha, settings):
    """Dunning's past_due and restore go through tenant_set_status (events carry by=billing)."""
    from datetime import date

    from crm.billing import services
    from crm.billing.models import Invoice, InvoiceStatus

    settings.STRIPE_SECRET_KEY = ""
    tenant = alpha.tenant
    _put(tenant, "active")
    now = timezone.now()
    invoice = Invoice.objects.create(
        tenant=tenant,
        number="M-STATUS-1",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 1, 31),
        manual=True,
        status=InvoiceStatus.OPEN,
        due_at=now - timedelta(days=1),
    )
    assert services.standing_refresh(tenant=tenant, now=now) == "past_due"
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID)
    assert services.standing_refresh(tenant=tenant, now=now) == "active"
    assert [(n, p["by"], p["to"]) for n, p in _events(tenant)] == [
        ("tenant.past_due", "billing", "past_due"),
        ("tenant.active", "billing", "active"),
    ]
