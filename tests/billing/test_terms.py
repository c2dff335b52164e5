"""Operators set the trial length and the grace period in the console; a change applies to new signups (trial)
and to invoices falling due after it (grace), never to what someone was already given."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.billing import services
from crm.billing.models import Invoice, InvoiceStatus
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.models import OperatorAudit
from crm.tenants.models import BillingTerms, TenantStatus
from crm.tenants.selectors import DEFAULT_TRIAL_DAYS, billing_terms
from crm.tenants.services import billing_terms_set, tenant_signup
from tests.fixtures import PASSWORD


def _overdue(tenant: Any, due_at: Any, number: str) -> Invoice:
    return Invoice.objects.create(
        tenant=tenant,
        number=number,
        manual=True,
        status=InvoiceStatus.OPEN,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        total=Decimal("199.00"),
        due_at=due_at,
    )


def test_defaults_until_an_operator_sets_terms(world: Any, settings: Any) -> None:
    terms = billing_terms()
    assert (terms.trial_days, terms.grace_days, terms.since) == (
        DEFAULT_TRIAL_DAYS,
        settings.BILLING_GRACE_DAYS,
        None,
    )


def test_new_trial_length_applies_to_new_signups_only(world: Any, operator: Any, alpha: Any) -> None:
    # Given alpha signed up under the default trial
    alpha_trial_end = alpha.tenant.trial_ends_at
    # When the operator sets a 30-day trial
    billing_terms_set(actor=operator, trial_days=30, grace_days=5)
    # Then a workspace signing up now gets 30 days, and alpha keeps what it was given
    before = timezone.now()
    tenant = tenant_signup(
        company="条款测试有限公司",
        slug="terms-new",
        owner_name="王芳",
        email="owner@terms-new.example.com",
        password=PASSWORD,
        modules=["retail"],
    ).tenant
    assert tenant.trial_ends_at is not None
    assert timedelta(days=30) <= tenant.trial_ends_at - before < timedelta(days=30, minutes=1)
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.trial_ends_at == alpha_trial_end
    # And the public pages advertise the new length
    page = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en").get("/pricing/").content.decode()
    assert "30-day free trial" in page


def test_grace_period_in_force_when_the_invoice_fell_due(world: Any, operator: Any, alpha: Any) -> None:
    now = timezone.now()
    # Given an invoice that fell due 5 days ago under a 10-day grace period
    billing_terms_set(actor=operator, trial_days=14, grace_days=10)
    BillingTerms.objects.update(created_at=now - timedelta(days=30))
    _overdue(alpha.tenant, now - timedelta(days=5), "T-GRACE-1")
    # When the operator shortens the grace period to 2 days afterwards
    billing_terms_set(actor=operator, trial_days=14, grace_days=2)
    # Then the invoice keeps its 10 days: past due, still fully usable
    assert services.standing_refresh(tenant=alpha.tenant, now=now) == TenantStatus.PAST_DUE
    account = services.account_get(tenant=alpha.tenant)
    assert account.grace_ends_at == now - timedelta(days=5) + timedelta(days=10)
    # And once those 10 days are over it turns read-only
    assert (
        services.standing_refresh(tenant=alpha.tenant, now=now + timedelta(days=6)) == TenantStatus.SUSPENDED
    )


def test_invoice_falling_due_after_the_change_gets_the_new_grace(
    world: Any, operator: Any, alpha: Any
) -> None:
    billing_terms_set(actor=operator, trial_days=14, grace_days=2)
    due = timezone.now() + timedelta(minutes=1)
    _overdue(alpha.tenant, due, "T-GRACE-2")
    assert (
        services.standing_refresh(tenant=alpha.tenant, now=due + timedelta(days=1)) == TenantStatus.PAST_DUE
    )
    assert (
        services.standing_refresh(tenant=alpha.tenant, now=due + timedelta(days=2)) == TenantStatus.SUSPENDED
    )


@pytest.mark.parametrize(
    ("trial", "grace", "bad"),
    [
        (-1, 7, {"trial_days"}),
        (91, 7, {"trial_days"}),
        (14, 61, {"grace_days"}),
        (None, None, {"trial_days", "grace_days"}),
    ],
)
def test_out_of_range_terms_are_refused_and_change_nothing(
    world: Any, operator: Any, trial: Any, grace: Any, bad: set[str]
) -> None:
    with pytest.raises(ServiceError) as info:
        billing_terms_set(actor=operator, trial_days=trial, grace_days=grace)
    assert set(info.value.fields) == bad
    assert not BillingTerms.objects.exists()
    assert not OperatorAudit.objects.filter(action="billing_terms.set").exists()


def test_only_operators_set_terms(world: Any, alpha: Any) -> None:
    with pytest.raises(PermissionDenied):
        billing_terms_set(actor=alpha.users["owner"], trial_days=30, grace_days=7)
    assert not BillingTerms.objects.exists()


def test_console_form_history_and_translated_errors(
    world: Any, operator: Any, public_client: Client, settings: Any
) -> None:
    # Given an operator on the price list page
    public_client.force_login(operator, backend="crm.tenants.accounts.backends.EmailBackend")
    page = public_client.get("/console/billing/prices/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="terms"' in page and f'value="{DEFAULT_TRIAL_DAYS}"' in page
    # When the terms are saved, then they are in force, listed in the history and audited
    response = public_client.post("/console/billing/terms/", {"trial_days": "21", "grace_days": "3"})
    assert response.status_code == 302
    assert (billing_terms().trial_days, billing_terms().grace_days) == (21, 3)
    page = public_client.get("/console/billing/prices/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count('data-testid="terms-row"') == 1 and operator.email in page
    audit = OperatorAudit.objects.get(action="billing_terms.set")
    assert audit.detail == {
        "trial_days": [DEFAULT_TRIAL_DAYS, 21],
        "grace_days": [settings.BILLING_GRACE_DAYS, 3],
    }
    # And a bad value answers a translated error beside the field, changing nothing
    public_client.cookies["django_language"] = "zh-hans"
    bad = public_client.post("/console/billing/terms/", {"trial_days": "200", "grace_days": "3"})
    assert bad.status_code == 400
    assert "请输入 0 到 90 之间的整数天数" in bad.content.decode()
    assert BillingTerms.objects.count() == 1


def test_terms_pages_are_operator_only(world: Any, alpha: Any, public_client: Client) -> None:
    assert (
        public_client.post("/console/billing/terms/", {"trial_days": "1", "grace_days": "1"}).status_code
        == 302
    )
    public_client.force_login(alpha.users["owner"], backend="crm.tenants.accounts.backends.EmailBackend")
    assert public_client.post(
        "/console/billing/terms/", {"trial_days": "1", "grace_days": "1"}
    ).status_code in (
        302,
        403,
    )
    assert not BillingTerms.objects.exists()
