"""Entitlements and overage, order states and SLA outcome, sign-off and reopen, return visits as core
activities, the renewal run once per term."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel.models import Notice
from crm.modules.core.models import Activity, Customer
from crm.modules.sales.models import Opportunity
from crm.modules.sales.tests.factories import make_stages
from crm.modules.service import services
from crm.modules.service.models import (
    Agreement,
    Entitlement,
    RenewalReminder,
    ReturnVisit,
    ServiceOrder,
    WorkLog,
)
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import at, make_order, to_public


@pytest.fixture
def ctx(alpha, desk):
    with schema_context(alpha.schema):
        yield alpha.users, desk
    to_public()


def _reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_work_consumes_the_entitlement_and_refuses_beyond_it(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    services.worklog_add(actor=desk.tech, order=order, hours=Decimal("6"))
    assert _reload(desk.hours).used == Decimal("6.00") and _reload(desk.hours).left == Decimal("4.00")
    with pytest.raises(ServiceError) as exc:
        services.worklog_add(actor=desk.tech, order=order, hours=Decimal("4.5"))
    assert exc.value.code == "entitlement_exceeded" and "4.00" in str(exc.value.message)
    assert _reload(desk.hours).used == Decimal("6.00") and WorkLog.objects.filter(order=order).count() == 1
    log = services.worklog_add(actor=desk.tech, order=order, hours=Decimal("4.5"), billable_overage=True)
    assert (log.consumed, log.overage) == (Decimal("4.00"), Decimal("0.50"))
    assert _reload(desk.hours).used == Decimal("10.00")
    order = _reload(order)
    assert order.hours_logged == Decimal("10.50") and order.status == "in_progress" and order.responded_at


def test_on_site_visit_takes_a_visit_and_refuses_when_none_left(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    for _i in range(2):
        services.worklog_add(actor=desk.tech, order=order, hours=Decimal("1"), on_site=True)
    assert _reload(desk.visits).used == Decimal("2.00")
    with pytest.raises(ServiceError):
        services.worklog_add(actor=desk.tech, order=order, hours=Decimal("1"), on_site=True)
    assert _reload(desk.hours).used == Decimal("2.00")


def test_order_without_agreement_logs_only_billable_work(ctx):
    users, desk = ctx
    order = make_order(desk, users, customer=desk.other)
    with pytest.raises(ServiceError):
        services.worklog_add(actor=desk.tech, order=order, hours=Decimal("1"))
    log = services.worklog_add(actor=desk.tech, order=order, hours=Decimal("1"), billable_overage=True)
    assert log.overage == Decimal("1.00") and log.entitlement is None


@pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-1"), Decimal("24.5"), Decimal("1.005")])
def test_bad_hours_are_refused(ctx, hours):
    users, desk = ctx
    order = make_order(desk, users)
    with pytest.raises(ServiceError):
        services.worklog_add(actor=desk.tech, order=order, hours=hours, billable_overage=True)
    assert not WorkLog.objects.exists()


def test_future_work_date_refused(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    with pytest.raises(ServiceError):
        services.worklog_add(
            actor=desk.tech,
            order=order,
            hours=Decimal("1"),
            work_date=timezone.localdate() + timedelta(days=2),
        )


def test_double_submitted_work_log_records_once(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    a = services.worklog_add(actor=desk.tech, order=order, hours=Decimal("2"), client_token="tok-1")
    b = services.worklog_add(actor=desk.tech, order=order, hours=Decimal("2"), client_token="tok-1")
    assert a.pk == b.pk and _reload(desk.hours).used == Decimal("2.00")


def test_other_technician_cannot_work_on_the_order(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    with pytest.raises(PermissionDenied):
        services.worklog_add(actor=desk.tech2, order=order, hours=Decimal("1"))
    with pytest.raises(PermissionDenied):
        services.order_transition(actor=desk.tech2, order=order, action="start")
    with pytest.raises(PermissionDenied):
        services.order_transition(actor=desk.tech, order=order, action="assign", assignee=desk.tech2)


def test_resolution_stores_sla_met_or_breached(ctx):
    users, desk = ctx
    on_time = make_order(desk, users, priority="urgent", opened_at=at(2026, 12, 1, 10))
    late = make_order(desk, users, priority="urgent", opened_at=at(2026, 12, 1, 10))
    # Urgent: resolution due 4 business hours later, 14:00.
    assert on_time.resolution_due == at(2026, 12, 1, 14)
    on_time = services.order_transition(
        actor=desk.tech, order=on_time, action="resolve", at=at(2026, 12, 1, 13, 59)
    )
    late = services.order_transition(actor=desk.tech, order=late, action="resolve", at=at(2026, 12, 1, 14, 1))
    assert (on_time.sla_met, late.sla_met) == (True, False)
    # A return visit is scheduled for the customer's rep, once per order.
    visit = ReturnVisit.objects.get(order=on_time)
    assert visit.owner == users["sales"] and visit.scheduled_on == date(2026, 12, 4)


def test_transitions_follow_the_states(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    assert order.status == "assigned"
    with pytest.raises(ServiceError):
        services.order_transition(actor=desk.tech, order=order, action="close")
    order = services.order_transition(actor=desk.tech, order=order, action="wait")
    assert order.status == "waiting" and order.responded_at is not None
    order = services.order_transition(actor=desk.tech, order=order, action="start")
    order = services.order_transition(
        actor=users["manager"], order=order, action="assign", assignee=desk.tech2
    )
    assert order.assignee == desk.tech2 and order.status == "assigned"
    assert Notice.objects.filter(user=desk.tech2).exists()
    with pytest.raises(ServiceError):
        services.order_transition(
            actor=users["manager"], order=order, action="assign", assignee=users["clerk"]
        )


def test_signoff_closes_a_resolved_order_and_reopen_clears_it(ctx):
    users, desk = ctx
    order = make_order(desk, users)
    with pytest.raises(ServiceError):
        services.order_signoff(actor=desk.tech, order=order, name="王经理")
    order = services.order_transition(actor=desk.tech, order=order, action="resolve")
    with pytest.raises(ServiceError):
        services.order_signoff(actor=desk.tech, order=order, name="  ")
    order = services.order_signoff(actor=desk.tech, order=order, name=" 王经理 ", note="满意")
    assert (order.status, order.signed_by, order.satisfaction_note) == ("closed", "王经理", "满意")
    assert order.signed_at and order.closed_at
    with pytest.raises(ServiceError):
        services.worklog_add(actor=desk.tech, order=order, hours=Decimal("1"))
    order = services.order_transition(actor=desk.tech, order=order, action="reopen")
    assert (order.status, order.reopened, order.signed_by, order.sla_met) == ("in_progress", 1, "", None)


def test_return_visit_is_a_core_activity_and_a_follow_up(ctx):
    users, desk = ctx
    Customer.objects.filter(pk=desk.customer.pk).update(last_activity_at=None)
    visit = services.visit_create(
        actor=users["sales"], customer=desk.customer, scheduled_on=date(2026, 12, 1)
    )
    with pytest.raises(ServiceError):
        services.visit_complete(actor=users["sales"], visit=visit, score=6)
    with pytest.raises(PermissionDenied):
        services.visit_complete(actor=users["sales2"], visit=visit, score=4)
    visit = services.visit_complete(
        actor=users["sales"], visit=visit, score=4, comment="很好", follow_up="下月巡检"
    )
    activity = Activity.objects.get(pk=visit.activity_id or 0)
    assert activity.customer_id == desk.customer.pk and activity.result == "很好"
    assert _reload(desk.customer).last_activity_at is not None
    with pytest.raises(ServiceError):
        services.visit_complete(actor=users["sales"], visit=visit, score=4)


def test_agreement_validation(ctx):
    users, desk = ctx
    with pytest.raises(ServiceError) as exc:
        services.agreement_create(
            actor=users["sales"],
            customer=desk.customer,
            title="",
            start_date=date(2026, 2, 1),
            end_date=date(2026, 1, 1),
            value=Decimal("-1"),
            entitlements=[services.EntitlementInput("x", Decimal("0"))],
        )
    assert {"title", "end_date", "value", "sold"} <= set(exc.value.fields)
    with pytest.raises(PermissionDenied):
        services.agreement_create(
            actor=desk.tech,
            customer=desk.customer,
            title="x",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 2, 1),
        )
    assert Agreement.objects.count() == 1


def test_renewal_task_creates_one_opportunity_per_term(ctx):
    users, desk = ctx
    make_stages()
    agreement = desk.agreement
    Agreement.objects.filter(pk=agreement.pk).update(renewal_notice_days=30, auto_renew=True)
    # 40 days before the end: nothing yet.
    assert services.renewals_run(today=date(2026, 11, 21))["opportunities"] == 0
    # 30 days before: one opportunity for the customer's owner, on the first open stage; the owner is told.
    assert services.renewals_run(today=date(2026, 12, 1))["opportunities"] == 1
    assert services.renewals_run(today=date(2026, 12, 2))["opportunities"] == 0
    opp = Opportunity.objects.get()
    assert opp.owner == users["sales"] and opp.amount == Decimal("60000.00")
    assert opp.expected_close == date(2026, 12, 31) and opp.stage.name == "初步接洽" and opp.status == "open"
    assert Notice.objects.filter(user=users["sales"], title__contains=agreement.number).count() == 1
    # After the end, an auto-renewing agreement rolls to the next term, which gets its own opportunity.
    assert services.renewals_run(today=date(2027, 1, 1))["renewed"] == 1
    agreement.refresh_from_db()
    assert (agreement.start_date, agreement.end_date) == (date(2027, 1, 1), date(2027, 12, 31))
    assert services.renewals_run(today=date(2027, 12, 5))["opportunities"] == 1
    assert RenewalReminder.objects.filter(agreement=agreement).count() == 2
    assert Opportunity.objects.count() == 2


def test_agreement_without_auto_renew_ends(ctx):
    users, desk = ctx
    assert services.renewals_run(today=date(2027, 1, 1))["ended"] == 1
    assert _reload(desk.agreement).status == "ended"
    with pytest.raises(ServiceError):
        make_order(desk, users, agreement=_reload(desk.agreement))


def test_entitlement_add_needs_edit_rights(ctx):
    users, desk = ctx
    with pytest.raises(PermissionDenied):
        services.entitlement_add(
            actor=users["sales2"],
            agreement=desk.agreement,
            line=services.EntitlementInput("额外", Decimal("5")),
        )
    services.entitlement_add(
        actor=users["sales"], agreement=desk.agreement, line=services.EntitlementInput("额外", Decimal("5"))
    )
    assert Entitlement.objects.filter(agreement=desk.agreement).count() == 3
    assert ServiceOrder.objects.count() == 0
