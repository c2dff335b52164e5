"""Approvals: the guard in the transition and each known bypass (confirm without saving, edit after
approval, copy of an approved document, approving your own), steps, rejection, notices and mail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from crm.kernel import approvals
from crm.kernel.approvals import approval_decide, approval_queue, approval_status, approval_submit
from crm.kernel.documents import LineData, document_copy, document_update
from crm.kernel.models import ApprovalRequest, ApprovalRule, ApprovalStep, Notice
from crm.kernel.states import transition
from crm.platform.errors import PermissionDenied, ServiceError
from tests.dummy_module.factories import manager_rule, order
from tests.dummy_module.models import DummyOrder

BIG = "120000"


def _submitted_big(u, owner="sales"):
    doc = order(u[owner], BIG)
    transition(actor=u[owner], document=doc, name="submit")
    return doc


def _request(doc) -> ApprovalRequest:
    return ApprovalRequest.objects.filter(object_id=doc.pk, doc_type=DummyOrder.doc_type).latest("id")


def test_small_orders_need_no_approval(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = order(u["sales"], "99999")
        assert approval_status(doc) == approvals.NOT_REQUIRED
        transition(actor=u["sales"], document=doc, name="submit")
        transition(actor=u["sales"], document=doc, name="confirm")
        assert not ApprovalRequest.objects.exists()


def test_big_order_waits_for_the_managers_approval(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        with django_capture_on_commit_callbacks(execute=True):
            doc = _submitted_big(u)
        req = _request(doc)
        assert (req.status, req.current_step, req.amount) == ("pending", 1, Decimal("120000.00"))
        assert list(approval_queue(u["manager"])) == [req]
        assert not approval_queue(u["sales"]).exists() and not approval_queue(u["owner"]).exists()
        # The manager is told twice: an email and an in-app notice.
        assert [m.to for m in mail.outbox] == [[u["manager"].email]] and doc.number in mail.outbox[0].subject
        assert Notice.objects.filter(user=u["manager"], read_at__isnull=True).count() == 1
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=doc, name="confirm")
        assert exc.value.code == "approval_required"
        assert approval_status(doc) == approvals.PENDING
        approval_decide(actor=u["manager"], request=req, approve=True, comment="同意")
        assert approval_status(doc) == approvals.APPROVED
        assert Notice.objects.filter(user=u["sales"]).count() == 1
        transition(actor=u["sales"], document=doc, name="confirm")
        assert DummyOrder.objects.get(pk=doc.pk).state == "confirmed"


def test_confirming_without_saving_reads_the_saved_document(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        # In memory the order looks small: the guard reads the saved rows.
        doc.total_incl = Decimal("10")
        doc.gross_incl = Decimal("10")
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=doc, name="confirm")
        assert exc.value.code == "approval_required"
        # A draft whose in-memory state says "submitted" is still a draft.
        draft = order(u["sales"], "10")
        draft.state = "submitted"
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=draft, name="confirm")
        assert exc.value.code == "illegal_transition"
        assert DummyOrder.objects.get(pk=draft.pk).state == "draft"


def test_editing_after_approval_needs_approval_again(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        approval_decide(actor=u["manager"], request=_request(doc), approve=True)
        assert approval_status(doc) == approvals.APPROVED
        # Same total, other price and quantity: still a material edit.
        document_update(
            actor=u["sales"],
            document=doc,
            lines=[LineData(description="钢材", quantity=Decimal("2"), unit_price_incl=Decimal("60000"))],
        )
        assert approval_status(doc) == approvals.NEEDS_APPROVAL
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=doc, name="confirm")
        assert exc.value.code == "approval_required"
        # Terms are material too.
        approval_submit(actor=u["sales"], document=doc)
        approval_decide(actor=u["manager"], request=_request(doc), approve=True)
        document_update(actor=u["sales"], document=doc, terms="预付 0%")
        assert approval_status(doc) == approvals.NEEDS_APPROVAL
        approval_submit(actor=u["sales"], document=doc)
        approval_decide(actor=u["manager"], request=_request(doc), approve=True)
        transition(actor=u["sales"], document=doc, name="confirm")
        assert DummyOrder.objects.get(pk=doc.pk).state == "confirmed"


def test_an_edit_while_pending_cannot_be_approved_blind(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        req = _request(doc)
        document_update(actor=u["sales"], document=doc, terms="改了")
        with pytest.raises(ServiceError) as exc:
            approval_decide(actor=u["manager"], request=req, approve=True)
        assert exc.value.code == "document_changed"
        assert ApprovalRequest.objects.get(pk=req.pk).status == "pending"


def test_a_copy_never_inherits_the_approval(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        approval_decide(actor=u["manager"], request=_request(doc), approve=True)
        copy = document_copy(actor=u["sales"], document=doc)
        assert approval_status(copy) == approvals.NEEDS_APPROVAL
        transition(actor=u["sales"], document=copy, name="submit")
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=copy, name="confirm")
        assert exc.value.code == "approval_required"
        assert _request(copy).status == "pending"


def test_nobody_approves_their_own_document(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        # The manager's own big order: he manages his own team, so it goes to the owners and admins.
        doc = _submitted_big(u, owner="manager")
        req = _request(doc)
        assert set(req.assignments.values_list("user_id", flat=True)) == {u["owner"].pk, u["admin"].pk}
        assert not approval_queue(u["manager"]).exists()
        with pytest.raises(PermissionDenied):
            approval_decide(actor=u["manager"], request=req, approve=True)
        # Even a role rule naming the owner's own role skips the owner.
        rule = ApprovalRule.objects.create(
            doc_type=DummyOrder.doc_type, name="经理审批", metric="amount", threshold=Decimal("0")
        )
        ApprovalStep.objects.create(rule=rule, position=1, kind="role", role="manager")
        with pytest.raises(ServiceError) as exc:  # the only manager is the owner: nobody to approve
            approval_submit(actor=u["manager"], document=doc)
        assert exc.value.code == "no_approver"
        # And someone not assigned cannot decide either.
        with pytest.raises(PermissionDenied):
            approval_decide(actor=u["sales2"], request=req, approve=True)


def test_a_rejected_request_needs_resubmission(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        req = _request(doc)
        with pytest.raises(ServiceError) as exc:
            approval_decide(actor=u["manager"], request=req, approve=False)
        assert exc.value.field == "comment"
        approval_decide(actor=u["manager"], request=req, approve=False, comment="价格太低")
        assert approval_status(doc) == approvals.REJECTED
        with pytest.raises(ServiceError):
            transition(actor=u["sales"], document=doc, name="confirm")
        with pytest.raises(ServiceError) as exc:  # a decided request cannot be decided again
            approval_decide(actor=u["manager"], request=req, approve=True)
        assert exc.value.code == "not_pending"
        [again] = approval_submit(actor=u["sales"], document=doc)
        assert again.pk != req.pk and again.status == "pending"
        approval_decide(actor=u["manager"], request=again, approve=True)
        transition(actor=u["sales"], document=doc, name="confirm")


def test_steps_run_in_order_and_withdrawal(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        rule = manager_rule()
        ApprovalStep.objects.create(rule=rule, position=2, kind="user", user=u["finance"])
        doc = _submitted_big(u)
        req = _request(doc)
        assert not approval_queue(u["finance"]).exists()
        approval_decide(actor=u["manager"], request=req, approve=True)
        req.refresh_from_db()
        assert (req.status, req.current_step) == ("pending", 2)
        assert not approval_queue(u["manager"]).exists() and list(approval_queue(u["finance"])) == [req]
        with pytest.raises(ServiceError):
            transition(actor=u["sales"], document=doc, name="confirm")
        approval_decide(actor=u["finance"], request=req, approve=True)
        transition(actor=u["sales"], document=doc, name="confirm")
        assert [(d.step, d.decided_by_id) for d in approvals.approval_decisions(req)] == [
            (1, u["manager"].pk),
            (2, u["finance"].pk),
        ]
        other = _submitted_big(u)
        with pytest.raises(PermissionDenied):
            approvals.approval_withdraw(actor=u["manager"], request=_request(other))
        approvals.approval_withdraw(actor=u["sales"], request=_request(other))
        assert approval_status(other) == approvals.NEEDS_APPROVAL
        assert not approval_queue(u["manager"]).exists()


def test_discount_and_margin_rules(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        manager_rule("15", metric="discount", name="大折扣")
        manager_rule("20", metric="margin", comparison="lt", name="低毛利")
        cheap = order(u["sales"], "100")  # no cost known: the margin rule applies
        assert [r.name for r in approvals.matching_rules(cheap)] == ["低毛利"]

        def with_line(discount: str, cost: str) -> DummyOrder:
            doc = order(u["sales"], "1")
            line = LineData(
                description="x",
                quantity=Decimal("1"),
                unit_price_incl=Decimal("113"),
                discount_percent=Decimal(discount),
                unit_cost_excl=Decimal(cost),
            )
            return document_update(actor=u["sales"], document=doc, lines=[line])

        assert approvals.matching_rules(with_line("0", "50")) == []  # margin 50 %
        assert [r.name for r in approvals.matching_rules(with_line("20", "50"))] == [
            "大折扣"
        ]  # margin 37.5 %
        assert [r.name for r in approvals.matching_rules(with_line("0", "90"))] == ["低毛利"]  # margin 10 %


def test_cancelling_withdraws_pending_requests(alpha):
    with schema_context(alpha.schema):
        manager_rule()
        u = alpha.users
        doc = _submitted_big(u)
        assert approval_queue(u["manager"]).count() == 1
        transition(actor=u["manager"], document=doc, name="cancel", reason="客户取消")
        assert _request(doc).status == "withdrawn"
        assert not approval_queue(u["manager"]).exists()
