"""Pipeline services: stages (default pipeline, add, rename, reorder, deactivate, fixed won/lost),
opportunities (validation that changes nothing, stage log, won/lost, reopen, edit scope), activities."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.public import Activity, Contact, Customer, Product
from crm.modules.sales import services_pipeline as svc
from crm.modules.sales.models import Opportunity, OpportunityActivity, OpportunityStageLog, Stage
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import DEFAULT_STAGES, make_customer, make_opportunity, stage_named


@pytest.fixture
def schema(alpha: Any) -> Any:
    with schema_context(alpha.schema):
        yield alpha


def test_default_pipeline_is_created_on_first_use_once(schema):
    assert not Stage.objects.exists()
    first = svc.stages_ensure()
    assert [(s.name, s.probability, s.kind) for s in first] == list(DEFAULT_STAGES)
    assert len(svc.stages_ensure()) == 6


def test_stage_add_rename_reorder_and_fixed_won_lost(schema):
    admin = schema.users["admin"]
    svc.stages_ensure()
    added = svc.stage_create(actor=admin, name="商务谈判", probability=90)
    names = list(Stage.objects.values_list("name", flat=True))
    assert names[-3:] == ["商务谈判", "赢单", "输单"]  # open stages before won and lost
    svc.stage_move(actor=admin, stage=added, up=True)
    assert list(Stage.objects.values_list("name", flat=True))[3:5] == ["商务谈判", "谈判审核"]
    svc.stage_update(actor=admin, stage=added, name="价格谈判", probability=85, is_active=True)
    added.refresh_from_db()
    assert (added.name, added.probability) == ("价格谈判", 85)
    won = Stage.objects.get(kind="won")
    with pytest.raises(ServiceError):
        svc.stage_update(actor=admin, stage=won, name="成交", probability=50)
    with pytest.raises(ServiceError):
        svc.stage_update(actor=admin, stage=won, name="成交", is_active=False)
    with pytest.raises(ServiceError):
        svc.stage_delete(actor=admin, stage=won)
    svc.stage_update(actor=admin, stage=won, name="成交", probability=100)
    won.refresh_from_db()
    assert (won.name, won.kind, won.probability, won.is_active) == ("成交", "won", 100, True)
    with pytest.raises(ServiceError):
        svc.stage_create(actor=admin, name="成交", probability=10)  # names are unique
    with pytest.raises(ServiceError):
        svc.stage_create(actor=admin, name="太高", probability=101)


def test_a_used_stage_is_deactivated_an_unused_one_deleted(schema):
    admin, rep = schema.users["admin"], schema.users["sales"]
    make_opportunity(rep, stage="需求确认")
    used = stage_named("需求确认")
    assert svc.stage_delete(actor=admin, stage=used) is False
    used.refresh_from_db()
    assert used.is_active is False and Opportunity.objects.filter(stage=used).count() == 1
    spare = svc.stage_create(actor=admin, name="空阶段", probability=20)
    assert svc.stage_delete(actor=admin, stage=spare) is True
    assert not Stage.objects.filter(pk=spare.pk).exists()


def test_only_settings_holders_change_stages(schema):
    svc.stages_ensure()
    for role in ("manager", "sales", "clerk"):
        with pytest.raises(PermissionDenied):
            svc.stage_create(actor=schema.users[role], name="X", probability=10)


def test_create_with_products_computes_the_amount_and_logs_the_first_stage(schema):
    rep = schema.users["sales"]
    customer = make_customer(rep)
    product = Product.objects.create(name="实施服务包", price=Decimal("5000"))
    opp = svc.opportunity_create(
        actor=rep,
        customer=customer,
        name="实施",
        expected_close=date(2027, 3, 31),
        products=[svc.ProductInput(product.pk, Decimal("3"), Decimal("5000.50"))],
    )
    assert opp.amount == Decimal("15001.50")
    assert opp.stage.name == "初步接洽" and opp.probability == 10 and opp.status == "open"
    assert opp.products.count() == 1
    log = list(OpportunityStageLog.objects.filter(opportunity=opp))
    assert [(e.from_stage_id, e.to_stage_id) for e in log] == [(None, opp.stage_id)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"expected_close": "2027-01-01"}, "expected_close"),
        ({"name": "  "}, "name"),
        ({"inactive": True}, "stage"),
        ({"other_contact": True}, "contact"),
        ({"probability": 120}, "probability"),
    ],
)
def test_bad_input_is_refused_with_a_field_and_changes_nothing(schema, fields, field):
    rep = schema.users["sales"]
    customer = make_customer(rep)
    svc.stages_ensure()
    kwargs: dict[str, Any] = {"name": "项目", "amount": Decimal("10")}
    if fields.pop("inactive", False):
        stage = stage_named("方案报价")
        Stage.objects.filter(pk=stage.pk).update(is_active=False)
        stage.refresh_from_db()
        kwargs["stage"] = stage
    if fields.pop("other_contact", False):
        other = make_customer(rep, name="别家公司")
        kwargs["contact"] = Contact.objects.create(customer=other, name="王经理")
    kwargs.update(fields)
    with pytest.raises(ServiceError) as err:
        svc.opportunity_create(actor=rep, customer=customer, **kwargs)
    assert field in err.value.fields and str(err.value.fields[field][0])
    assert Opportunity.objects.count() == 0 and OpportunityStageLog.objects.count() == 0


def test_lost_needs_a_reason_won_closes(schema):
    rep = schema.users["sales"]
    opp = make_opportunity(rep)
    lost = stage_named("输单")
    with pytest.raises(ServiceError) as err:
        svc.opportunity_move(actor=rep, opportunity=opp, stage=lost)
    assert "lost_reason" in err.value.fields
    opp.refresh_from_db()
    assert opp.status == "open" and OpportunityStageLog.objects.filter(opportunity=opp).count() == 1
    svc.opportunity_move(actor=rep, opportunity=opp, stage=stage_named("方案报价"))
    opp.refresh_from_db()
    assert (opp.probability, opp.stage.name) == (50, "方案报价") and opp.stage_changed_at is not None
    moved = svc.opportunity_move(actor=rep, opportunity=opp, stage=lost, lost_reason="价格太高")
    assert (moved.status, moved.lost_reason, moved.probability) == ("lost", "价格太高", 0)
    assert moved.closed_at is not None
    with pytest.raises(ServiceError):
        svc.opportunity_move(actor=rep, opportunity=moved, stage=stage_named("需求确认"))  # reopen first
    reopened = svc.opportunity_reopen(actor=rep, opportunity=moved)
    assert (reopened.status, reopened.stage.name, reopened.closed_at, reopened.lost_reason) == (
        "open",
        "方案报价",
        None,
        "",
    )
    assert reopened.probability == 50
    won = svc.opportunity_move(actor=rep, opportunity=reopened, stage=stage_named("赢单"))
    assert (won.status, won.probability) == ("won", 100) and won.closed_at is not None
    steps = list(
        OpportunityStageLog.objects.filter(opportunity=opp)
        .order_by("id")
        .values_list("to_stage__name", flat=True)
    )
    assert steps == ["初步接洽", "方案报价", "输单", "方案报价", "赢单"]


def test_an_overridden_probability_is_kept_on_move(schema):
    rep = schema.users["sales"]
    opp = make_opportunity(rep, probability=25)
    assert opp.probability == 25
    svc.opportunity_move(actor=rep, opportunity=opp, stage=stage_named("需求确认"))
    opp.refresh_from_db()
    assert opp.probability == 25


def test_moving_to_an_inactive_stage_is_refused(schema):
    rep = schema.users["sales"]
    opp = make_opportunity(rep)
    stage = stage_named("需求确认")
    Stage.objects.filter(pk=stage.pk).update(is_active=False)
    stage.refresh_from_db()
    with pytest.raises(ServiceError):
        svc.opportunity_move(actor=rep, opportunity=opp, stage=stage)
    assert OpportunityStageLog.objects.filter(opportunity=opp).count() == 1


def test_a_rep_cannot_edit_or_move_another_reps_opportunity_a_manager_can(schema):
    rep, other, manager = schema.users["sales"], schema.users["sales2"], schema.users["manager"]
    opp = make_opportunity(other)
    with pytest.raises(PermissionDenied):
        svc.opportunity_move(actor=rep, opportunity=opp, stage=stage_named("需求确认"))
    with pytest.raises(PermissionDenied):
        svc.opportunity_update(actor=rep, opportunity=opp, name="改名")
    mine = make_opportunity(rep, name="团队的")
    svc.opportunity_update(
        actor=manager, opportunity=mine, name="经理改的", amount="200"
    )  # rep is in the team
    mine.refresh_from_db()
    assert (mine.name, mine.amount) == ("经理改的", Decimal("200.00"))
    with pytest.raises(PermissionDenied):  # sales2 is not in the manager's team
        svc.opportunity_update(actor=manager, opportunity=opp, name="x")
    with pytest.raises(PermissionDenied):
        svc.opportunity_create(actor=schema.users["clerk"], customer=opp.customer, name="x")


def test_update_validates_and_changes_nothing_on_error(schema):
    rep = schema.users["sales"]
    opp = make_opportunity(rep, amount="500")
    with pytest.raises(ServiceError):
        svc.opportunity_update(actor=rep, opportunity=opp, amount="-5", name="新名")
    opp.refresh_from_db()
    assert (opp.name, opp.amount) == ("ERP 实施项目", Decimal("500.00"))
    other = Contact.objects.create(customer=make_customer(rep, name="别家"), name="李")
    with pytest.raises(ServiceError):
        svc.opportunity_update(actor=rep, opportunity=opp, contact=other)


def test_an_activity_on_an_opportunity_is_a_follow_up_of_its_customer(schema):
    rep = schema.users["sales"]
    opp = make_opportunity(rep)
    Customer.objects.filter(pk=opp.customer_id).update(
        last_activity_at=timezone.now() - timedelta(days=40), pool_warned_at=timezone.now()
    )
    activity = svc.opportunity_log_activity(actor=rep, opportunity=opp, kind="call", result="客户确认预算")
    assert Activity.objects.get(pk=activity.pk).customer_id == opp.customer_id
    assert OpportunityActivity.objects.filter(opportunity=opp, activity=activity).exists()
    customer = Customer.objects.get(pk=opp.customer_id)
    assert customer.pool_warned_at is None
    assert customer.last_activity_at is not None
    assert customer.last_activity_at >= activity.occurred_at - timedelta(seconds=1)
    with pytest.raises(ServiceError):
        svc.opportunity_log_activity(actor=rep, opportunity=opp, kind="call")
    with pytest.raises(PermissionDenied):
        svc.opportunity_log_activity(actor=schema.users["sales2"], opportunity=opp, result="x")
