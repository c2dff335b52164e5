"""Per-tenant discounts set by operators: a discount line on ledger invoices, a coupon in Stripe, audited."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from crm.billing import services
from crm.billing.ledger import discount_percent_for, ledger_sync_all, next_month, price_for
from crm.billing.models import BillingAccount, Invoice, TenantDiscount
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.models import OperatorAudit
from crm.tenants.models import TenantStatus
from tests.billing.conftest import history
from tests.billing.test_stripe import checkout_completed, send, start_checkout

SH = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
LOGIN = "crm.tenants.accounts.backends.EmailBackend"


@pytest.fixture
def october(alpha, offline):
    """alpha billed for project all of October 2026 (trial long over); no other module in the ledger."""
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
    tenant.status = TenantStatus.ACTIVE
    tenant.save()
    history(tenant, "project", [(datetime(2026, 9, 1, tzinfo=SH), "enable")])
    history(tenant, "retail", [])
    ledger_sync_all(tenant=tenant)
    return alpha


def test_operator_sets_discount_in_console_and_offline_invoice_shows_the_line(
    october, operator, public_client
):
    tenant = october.tenant
    public_client.force_login(operator, backend=LOGIN)
    page = public_client.get(f"/console/billing/tenants/{tenant.pk}/")
    assert page.status_code == 200 and 'data-testid="discount"' in page.content.decode()

    response = public_client.post(
        f"/console/billing/tenants/{tenant.pk}/discount/",
        {"percent": "12.5", "reason": "launch partner", "starts_on": "", "ends_on": ""},
    )
    assert response.status_code == 302
    discount = TenantDiscount.objects.get(tenant=tenant)
    assert discount.percent == Decimal("12.50") and discount.set_by == operator.email
    # No start chosen: from the first day of next month.
    assert discount.valid_from == next_month(timezone.localdate().replace(day=1))
    audit = OperatorAudit.objects.get(tenant=tenant, action="billing.discount_set")
    assert audit.operator_id == operator.pk and audit.detail["percent"] == "12.5"
    assert audit.detail["reason"] == "launch partner"
    assert audit.detail["starts_on"] == discount.valid_from.isoformat()
    # Back-date it so that October's invoice is covered.
    TenantDiscount.objects.filter(pk=discount.pk).update(valid_from=date(2026, 10, 1))

    with translation.override("en"):  # line descriptions are stored in the active language
        invoice = services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    assert invoice is not None
    lines = {ln.module: ln for ln in invoice.lines.all()}
    project = price_for("project", date(2026, 10, 1))[0]
    off = (project * Decimal("0.125")).quantize(Decimal("0.01"))
    assert lines["project"].amount == project
    assert lines[services.DISCOUNT_LINE].amount == -off
    assert lines[services.DISCOUNT_LINE].description == "Discount 12.5%"
    assert invoice.total == project - off == invoice.ledger_total
    # The owner's page shows the line too (current month estimate, covered by the back-dated row).
    html = october.client("owner").get("/billing/").content.decode()
    assert 'data-testid="estimate-discount"' in html and "12.5%" in html


def test_discount_is_validated_audited_on_change_and_removable(october, operator):
    tenant = october.tenant
    with pytest.raises(PermissionDenied):
        services.discount_set(
            actor=october.users["owner"], tenant=tenant, percent=Decimal("50"), reason="x y z"
        )
    for percent, reason, ends_on, field in [
        (Decimal("100.01"), "too much", None, "percent"),
        (Decimal("-1"), "negative", None, "percent"),
        (Decimal("10.005"), "three decimals", None, "percent"),
        (Decimal("10"), "", None, "reason"),
        (Decimal("10"), "ended", date(2020, 1, 1), "ends_on"),
    ]:
        with pytest.raises(ServiceError) as err:
            services.discount_set(
                actor=operator, tenant=tenant, percent=percent, reason=reason, ends_on=ends_on
            )
        assert field in err.value.fields
    assert not TenantDiscount.objects.filter(tenant=tenant).exists()
    assert not OperatorAudit.objects.filter(tenant=tenant).exists()

    today = timezone.localdate()
    following = next_month(today.replace(day=1))
    services.discount_set(actor=operator, tenant=tenant, percent=Decimal("20"), reason="first year")
    services.discount_set(actor=operator, tenant=tenant, percent=Decimal("30"), reason="better deal")
    # Both start next month: the second replaces the first before it started; both rows are kept.
    assert discount_percent_for(tenant, following) == Decimal("30")
    assert [(r.percent, r.cancelled) for r in TenantDiscount.objects.filter(tenant=tenant)] == [
        (Decimal("30"), False),
        (Decimal("20"), True),
    ]
    changes = OperatorAudit.objects.filter(tenant=tenant).order_by("id")
    assert [(a.action, a.detail["previous"]) for a in changes] == [
        ("billing.discount_set", None),
        ("billing.discount_set", "20"),
    ]
    removed = services.discount_set(actor=operator, tenant=tenant, percent=Decimal("0"), reason="ended")
    assert removed.percent == 0 and discount_percent_for(tenant, following) == 0
    assert TenantDiscount.objects.filter(tenant=tenant).count() == 3
    assert OperatorAudit.objects.filter(tenant=tenant, action="billing.discount_removed").count() == 1


def test_discount_with_end_date_stops_after_that_month(october, operator):
    tenant = october.tenant
    TenantDiscount.objects.create(
        tenant=tenant,
        percent=Decimal("50"),
        reason="promo",
        valid_from=date(2026, 8, 1),
        ends_on=date(2026, 9, 15),
    )
    september = services.invoice_generate(tenant=tenant, period_start=date(2026, 9, 1))
    october_invoice = services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    assert september is not None and october_invoice is not None
    assert september.lines.filter(module=services.DISCOUNT_LINE).exists()
    assert not october_invoice.lines.filter(module=services.DISCOUNT_LINE).exists()
    assert october_invoice.total == price_for("project", date(2026, 10, 1))[0]


def test_console_rejects_bad_discount_and_changes_nothing(october, operator, public_client):
    public_client.force_login(operator, backend=LOGIN)
    response = public_client.post(
        f"/console/billing/tenants/{october.tenant.pk}/discount/", {"percent": "150", "reason": "no"}
    )
    assert response.status_code == 400
    assert not TenantDiscount.objects.filter(tenant=october.tenant).exists()
    assert october.client("owner").post(
        f"/console/billing/tenants/{october.tenant.pk}/discount/"
    ).status_code in (
        403,
        404,
    )


def test_stripe_mode_discount_is_a_coupon_on_the_subscription(
    alpha, fake_stripe, public_client, operator, django_capture_on_commit_callbacks
):
    # Given a discount set before the card was added: checkout carries it as a coupon
    services.discount_set(actor=operator, tenant=alpha.tenant, percent=Decimal("25"), reason="partner")
    session_id = start_checkout(alpha, fake_stripe)
    coupon_id = fake_stripe.get(session_id)["_discounts"][0]
    coupon = fake_stripe.get(coupon_id)
    assert coupon["object"] == "coupon" and coupon["percent_off"] == 25.0 and coupon["duration"] == "forever"
    send(
        public_client,
        fake_stripe,
        fake_stripe.complete_checkout(session_id),
        django_capture_on_commit_callbacks,
    )
    account = BillingAccount.objects.get(tenant=alpha.tenant)
    sub = fake_stripe.get(account.stripe_subscription_id)
    assert len(sub["discounts"]) == 1

    # When the operator changes it to 40% until the end of next month
    today = timezone.localdate()
    ends = date(today.year + (today.month // 12), today.month % 12 + 1, 1)
    services.discount_set(
        actor=operator, tenant=alpha.tenant, percent=Decimal("40"), reason="bigger", ends_on=ends
    )
    update = [
        p for m, path, p in fake_stripe.requests if m == "POST" and path == f"/subscriptions/{sub['id']}"
    ]
    new_coupon = fake_stripe.get(update[-1]["discounts"][0]["coupon"])
    assert new_coupon["percent_off"] == 40.0
    assert new_coupon["duration"] == "repeating" and new_coupon["duration_in_months"] == 2
    assert TenantDiscount.objects.filter(tenant=alpha.tenant)[0].stripe_coupon_id == new_coupon["id"]

    # Then Stripe's next invoice takes 40% off, and our ledger expects the same kind of total
    renewal = fake_stripe.renew(sub["id"], pay=True)
    invoice = fake_stripe.get(renewal[0]["data"]["object"]["id"])
    assert invoice["total"] == invoice["subtotal"] - round(invoice["subtotal"] * 0.4)
    assert invoice["total_discount_amounts"][0]["amount"] == invoice["subtotal"] - invoice["total"]
    send(public_client, fake_stripe, renewal, django_capture_on_commit_callbacks)
    mirrored = Invoice.objects.get(stripe_invoice_id=invoice["id"])
    assert mirrored.total * 100 == invoice["total"]

    # Removing the discount clears the subscription's discounts (empty string, as Stripe expects)
    services.discount_set(actor=operator, tenant=alpha.tenant, percent=Decimal("0"), reason="over")
    assert fake_stripe.requests[-1][2]["discounts"] == ""
    assert fake_stripe.get(sub["id"])["discounts"] == []


def test_stripe_unreachable_changes_nothing(
    alpha, fake_stripe, public_client, operator, django_capture_on_commit_callbacks
):
    checkout_completed(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks)
    fake_stripe.down = True
    with pytest.raises(ServiceError):
        services.discount_set(actor=operator, tenant=alpha.tenant, percent=Decimal("10"), reason="try")
    assert not TenantDiscount.objects.filter(tenant=alpha.tenant).exists()
    assert not OperatorAudit.objects.filter(tenant=alpha.tenant).exists()


def test_change_preview_takes_the_discount_off(october, operator):
    """The modules page's cost preview shows what the owner will really pay: the discount comes off, from
    the month it starts in."""
    before = services.module_change_preview(tenant=october.tenant, module="trade", enable=True)
    services.discount_set(actor=operator, tenant=october.tenant, percent=Decimal("50"), reason="half price")
    after = services.module_change_preview(tenant=october.tenant, module="trade", enable=True)
    assert before["this_month"] > 0
    # Set mid-month without a start: this month is unchanged, next month is half price.
    assert after["this_month"] == before["this_month"]
    assert after["monthly_from_next_month"] == before["monthly_from_next_month"] / 2
    # Chosen explicitly for this month: it comes off this month too.
    services.discount_set(
        actor=operator,
        tenant=october.tenant,
        percent=Decimal("50"),
        reason="half price now",
        starts_on=timezone.localdate().replace(day=1),
    )
    now = services.module_change_preview(tenant=october.tenant, module="trade", enable=True)
    half = (before["this_month"] / 2).quantize(Decimal("0.01"), rounding="ROUND_HALF_DOWN")
    assert now["this_month"] == half


def test_a_change_mid_november_applies_from_december_and_is_kept_in_the_history(
    october, operator, public_client
):
    """Given 10% from October, when the operator changes it to 30% on 15 November (no start chosen),
    then November's invoice (made in December) keeps 10%, December's has 30%, and the console lists both
    entries with who, when, percent, reason, from and until."""
    tenant = october.tenant
    first = services.discount_set(
        actor=operator,
        tenant=tenant,
        percent=Decimal("10"),
        reason="launch partner",
        starts_on=date(2026, 10, 1),
        today=date(2026, 10, 3),
    )
    second = services.discount_set(
        actor=operator, tenant=tenant, percent=Decimal("30"), reason="bigger deal", today=date(2026, 11, 15)
    )
    first.refresh_from_db()
    assert (first.valid_from, first.ends_on) == (date(2026, 10, 1), date(2026, 11, 30))
    assert (second.valid_from, second.ends_on) == (date(2026, 12, 1), None)

    november = services.invoice_generate(tenant=tenant, period_start=date(2026, 11, 1))
    december = services.invoice_generate(tenant=tenant, period_start=date(2026, 12, 1))
    assert november is not None and december is not None

    def off(invoice: Invoice) -> tuple[Decimal, Decimal]:
        subtotal = sum((ln.amount for ln in invoice.lines.exclude(module=services.DISCOUNT_LINE)), Decimal(0))
        return -invoice.lines.get(module=services.DISCOUNT_LINE).amount, subtotal

    discount, subtotal = off(november)
    assert subtotal > 0 and discount == (subtotal / 10).quantize(CENT, rounding=ROUND_HALF_UP)
    discount, subtotal = off(december)
    assert subtotal > 0 and discount == (subtotal * 3 / 10).quantize(CENT, rounding=ROUND_HALF_UP)
    # October (before the change) is untouched too.
    assert discount_percent_for(tenant, date(2026, 10, 1)) == Decimal("10")

    public_client.force_login(operator, backend=LOGIN)
    html = public_client.get(f"/console/billing/tenants/{tenant.pk}/").content.decode()
    history_html = html[html.index('data-testid="discount-history"') :]
    assert history_html.index("2026-12-01") < history_html.index("2026-10-01")  # latest first
    for text in ("bigger deal", "launch partner", "2026-11-30", operator.email, "30.00", "10.00"):
        assert text in history_html
    # Audit rows stay, one per change.
    audits = OperatorAudit.objects.filter(tenant=tenant, action="billing.discount_set").order_by("id")
    assert [(a.detail["starts_on"], a.detail["previous"]) for a in audits] == [
        ("2026-10-01", None),
        ("2026-12-01", "10"),
    ]


def test_a_later_change_wins_from_its_start_and_removal_is_a_row(october, operator):
    tenant = october.tenant
    today = date(2026, 11, 15)
    services.discount_set(
        actor=operator,
        tenant=tenant,
        percent=Decimal("20"),
        reason="from February",
        starts_on=date(2027, 2, 1),
        today=today,
    )
    # An earlier start replaces the scheduled row before it began.
    services.discount_set(
        actor=operator,
        tenant=tenant,
        percent=Decimal("15"),
        reason="from January",
        starts_on=date(2027, 1, 1),
        today=today,
    )
    assert discount_percent_for(tenant, date(2027, 2, 1)) == Decimal("15")
    services.discount_set(
        actor=operator,
        tenant=tenant,
        percent=Decimal("0"),
        reason="ended",
        starts_on=date(2027, 3, 1),
        today=today,
    )
    assert [discount_percent_for(tenant, date(2027, m, 1)) for m in (1, 2, 3, 4)] == [
        Decimal("15"),
        Decimal("15"),
        Decimal("0"),
        Decimal("0"),
    ]
    rows = TenantDiscount.objects.filter(tenant=tenant)
    assert [(r.percent, r.valid_from, r.ends_on, r.cancelled) for r in rows] == [
        (Decimal("0"), date(2027, 3, 1), None, False),
        (Decimal("20"), date(2027, 2, 1), date(2026, 12, 31), True),
        (Decimal("15"), date(2027, 1, 1), date(2027, 2, 28), False),
    ]


def test_start_must_be_a_month_start_not_past_and_not_invoiced(october, operator):
    tenant = october.tenant
    services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    today = date(2026, 10, 20)
    for starts_on, ends_on, field in [
        (date(2026, 11, 15), None, "starts_on"),  # not the first of a month
        (date(2026, 9, 1), None, "starts_on"),  # a month already over
        (date(2026, 10, 1), None, "starts_on"),  # October is invoiced already
        (date(2026, 12, 1), date(2026, 11, 30), "ends_on"),  # ends before it starts
    ]:
        with pytest.raises(ServiceError) as err:
            services.discount_set(
                actor=operator,
                tenant=tenant,
                percent=Decimal("10"),
                reason="checks",
                starts_on=starts_on,
                ends_on=ends_on,
                today=today,
            )
        assert field in err.value.fields, (starts_on, err.value.fields)
    assert not TenantDiscount.objects.filter(tenant=tenant).exists()


def test_console_form_takes_a_start(october, operator, public_client):
    public_client.force_login(operator, backend=LOGIN)
    this_month = timezone.localdate().replace(day=1)
    response = public_client.post(
        f"/console/billing/tenants/{october.tenant.pk}/discount/",
        {"percent": "5", "reason": "goodwill", "starts_on": this_month.isoformat(), "ends_on": ""},
    )
    assert response.status_code == 302
    assert discount_percent_for(october.tenant, this_month) == Decimal("5")
    bad = public_client.post(
        f"/console/billing/tenants/{october.tenant.pk}/discount/",
        {"percent": "5", "reason": "goodwill", "starts_on": this_month.replace(day=2).isoformat()},
    )
    assert bad.status_code == 400 and TenantDiscount.objects.filter(tenant=october.tenant).count() == 1


def test_stripe_subscription_limits_the_start_to_next_month(
    alpha, fake_stripe, public_client, operator, django_capture_on_commit_callbacks
):
    checkout_completed(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks)
    later = next_month(next_month(timezone.localdate().replace(day=1)))
    with pytest.raises(ServiceError) as err:
        services.discount_set(
            actor=operator, tenant=alpha.tenant, percent=Decimal("10"), reason="later", starts_on=later
        )
    assert "starts_on" in err.value.fields
    assert not TenantDiscount.objects.filter(tenant=alpha.tenant).exists()
