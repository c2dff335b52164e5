"""Numbering, lines and totals, the state machine and its log, delete vs cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from crm.kernel.documents import LineData, document_copy, document_create, document_delete, document_update
from crm.kernel.models import NumberFormat, NumberSequence
from crm.kernel.numbering import number_next, number_year
from crm.kernel.numbering_worker import run_concurrently
from crm.kernel.states import available_transitions, document_history, transition
from crm.platform.errors import PermissionDenied, ServiceError
from tests.dummy_module.factories import order
from tests.dummy_module.models import DummyOrder, DummyOrderLine


def test_numbers_are_per_type_and_year_with_prefix_and_padding(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        first, second = order(u["sales"]), order(u["sales"])
        year = number_year()
        assert (first.number, second.number) == (f"DO-{year}-00001", f"DO-{year}-00002")
        NumberFormat.objects.create(doc_type=DummyOrder.doc_type, prefix="HT")
        assert order(u["sales"]).number == f"HT-{year}-00003"
        with transaction.atomic():  # another type counts on its own
            assert number_next(doc_type="other.type", prefix="X", digits=3) == f"X-{year}-001"


def test_year_is_the_tenants_local_year(alpha):
    with schema_context(alpha.schema):
        new_year_in_shanghai = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 January 2027 in UTC+8
        assert number_year(new_year_in_shanghai) == 2027
        alpha.tenant.time_zone = "Europe/London"
        from django.db import connection

        connection.tenant = alpha.tenant  # type: ignore[attr-defined]
        assert number_year(new_year_in_shanghai) == 2026
        with transaction.atomic():
            assert number_next(doc_type="t", prefix="T", at=new_year_in_shanghai) == "T-2026-00001"


def test_a_rolled_back_creation_leaves_no_gap(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        order(u["sales"])
        with pytest.raises(ServiceError), transaction.atomic():
            doc = order(u["sales"])
            assert doc.number.endswith("00002")
            raise ServiceError("the caller failed after numbering")
        assert order(u["sales"]).number.endswith("00002")
        assert NumberSequence.objects.get(doc_type=DummyOrder.doc_type).last == 2


def test_two_processes_numbering_at_once_get_no_gaps_and_no_duplicates(alpha):
    doc_type = f"concurrent.{uuid.uuid4().hex[:8]}"
    result = run_concurrently(schema=alpha.schema, doc_type=doc_type, per_process=150)
    assert len(result["numbers"]) == 300
    assert result["unique"] and result["gapless"]
    # Both processes really interleaved (each got numbers below the other's last one).
    a, b = ([int(n.rsplit("-", 1)[1]) for n in nums] for nums in result["per_process"])
    assert min(a) < max(b) and min(b) < max(a)
    with schema_context(alpha.schema):
        assert not NumberSequence.objects.filter(doc_type=doc_type).exists()  # the workers cleaned up


def test_line_amounts_and_totals_are_sums_of_stored_lines(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        doc = document_create(
            actor=u["sales"],
            model=DummyOrder,
            lines=[
                # 3 x 33.33 = 99.99; 99.99 / 1.13 = 88.486 -> 88.49; tax 11.50
                LineData(description="A", quantity=Decimal("3"), unit_price_incl=Decimal("33.33")),
                # 0.5 x 10.01 = 5.005 -> 5.01 (half up); 5.01 / 1.06 = 4.726 -> 4.73; tax 0.28
                LineData(
                    description="B",
                    quantity=Decimal("0.5"),
                    unit_price_incl=Decimal("10.01"),
                    vat_rate=Decimal("0.06"),
                ),
                # 10 % off 100.00 -> 90.00; 90 / 1.13 = 79.646 -> 79.65; tax 10.35
                LineData(
                    description="C",
                    quantity=Decimal("1"),
                    unit_price_incl=Decimal("100"),
                    discount_percent=Decimal("10"),
                ),
            ],
        )
        lines = list(DummyOrderLine.objects.filter(document=doc))
        assert [(ln.amount_incl, ln.amount_excl, ln.amount_tax) for ln in lines] == [
            (Decimal("99.99"), Decimal("88.49"), Decimal("11.50")),
            (Decimal("5.01"), Decimal("4.73"), Decimal("0.28")),
            (Decimal("90.00"), Decimal("79.65"), Decimal("10.35")),
        ]
        doc.refresh_from_db()
        assert (doc.total_incl, doc.total_excl, doc.total_tax) == (
            Decimal("195.00"),
            Decimal("172.87"),
            Decimal("22.13"),
        )
        assert doc.gross_incl == Decimal("205.00") and doc.discount_percent == Decimal("4.88")
        assert doc.margin_percent is None  # no cost given
        document_update(
            actor=u["sales"],
            document=doc,
            lines=[
                LineData(
                    description="D",
                    quantity=Decimal("2"),
                    unit_price_incl=Decimal("113"),
                    unit_cost_excl=Decimal("60"),
                )
            ],
        )
        doc.refresh_from_db()
        assert (doc.total_incl, doc.total_excl, doc.total_tax) == (
            Decimal("226.00"),
            Decimal("200.00"),
            Decimal("26.00"),
        )
        assert doc.margin_percent == Decimal("40.00")  # (200 - 120) / 200


def test_invalid_lines_are_refused_and_write_nothing(alpha):
    with schema_context(alpha.schema):
        with pytest.raises(ServiceError) as exc:
            document_create(
                actor=alpha.users["sales"],
                model=DummyOrder,
                lines=[LineData(description="", quantity=Decimal("0"), unit_price_incl=Decimal("-1"))],
            )
        assert len(exc.value.fields["lines"]) == 3
        assert not DummyOrder.objects.exists()
        assert not NumberSequence.objects.filter(doc_type=DummyOrder.doc_type).exists()


def test_transitions_are_checked_and_logged(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        doc = order(u["sales"])
        assert [t.name for t in available_transitions(actor=u["sales"], document=doc)] == ["submit"]
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=doc, name="confirm")
        assert exc.value.code == "illegal_transition"
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["sales"], document=doc, name="explode")
        assert exc.value.code == "illegal_transition"
        with pytest.raises(PermissionDenied):
            transition(actor=u["clerk"], document=doc, name="submit")
        transition(actor=u["sales"], document=doc, name="submit")
        transition(actor=u["sales"], document=doc, name="confirm", reason="客户已签字")
        assert DummyOrder.objects.get(pk=doc.pk).state == "confirmed" and doc.state == "confirmed"
        with pytest.raises(PermissionDenied):  # reps cannot cancel
            transition(actor=u["sales"], document=doc, name="cancel", reason="x")
        with pytest.raises(ServiceError) as exc:
            transition(actor=u["manager"], document=doc, name="cancel")
        assert exc.value.field == "reason"
        transition(actor=u["manager"], document=doc, name="cancel", reason="客户取消")
        history = document_history(doc)
        assert [(h.from_state, h.to_state, h.actor_id, h.reason) for h in history] == [
            ("draft", "submitted", u["sales"].pk, ""),
            ("submitted", "confirmed", u["sales"].pk, "客户已签字"),
            ("confirmed", "cancelled", u["manager"].pk, "客户取消"),
        ]
        assert all(h.created_at for h in history)


def test_a_failed_guard_changes_nothing(alpha):
    with schema_context(alpha.schema):
        doc = order(alpha.users["sales"])
        with pytest.raises(ServiceError):
            transition(actor=alpha.users["sales"], document=doc, name="confirm")
        assert DummyOrder.objects.get(pk=doc.pk).state == "draft" and not document_history(doc)


def test_delete_only_in_draft_then_cancel(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        draft = order(u["sales"])
        document_delete(actor=u["sales"], document=draft)
        assert not DummyOrder.objects.filter(pk=draft.pk).exists()
        assert not DummyOrderLine.objects.filter(document_id=draft.pk).exists()
        doc = order(u["sales"])
        transition(actor=u["sales"], document=doc, name="submit")
        transition(actor=u["sales"], document=doc, name="confirm")
        with pytest.raises(ServiceError) as exc:
            document_delete(actor=u["manager"], document=doc)
        assert exc.value.code == "not_deletable"
        with pytest.raises(ServiceError) as exc:  # confirmed: no more edits either
            document_update(actor=u["sales"], document=doc, terms="新条款")
        assert exc.value.code == "not_editable"
        assert DummyOrder.objects.filter(pk=doc.pk).exists()


def test_copy_is_a_new_numbered_draft_with_the_same_lines(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        doc = order(u["sales"], "500", quantity="3", terms="30天账期")
        transition(actor=u["sales"], document=doc, name="submit")
        copy = document_copy(actor=u["sales2"], document=doc)
        assert copy.pk != doc.pk and copy.number != doc.number
        assert (copy.state, copy.owner_id, copy.terms) == ("draft", u["sales2"].pk, "30天账期")
        assert copy.total_incl == doc.total_incl == Decimal("1500.00")
        assert DummyOrderLine.objects.filter(document=copy).count() == 1
