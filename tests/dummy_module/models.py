"""The dummy module's data: an order with lines, numbered "DO-<year>-00001", that uses every kernel
document piece (numbering, lines and totals, a state machine, approvals), and a small owned note pointing
at a customer (the customer-link test)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from crm.kernel.models import Document, DocumentLine
from crm.kernel.states import Transition


class DummyNote(models.Model):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=200, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text


class DummyOrder(Document):
    """draft -> submitted -> confirmed -> cancelled (a draft is deleted, a submitted order back to draft)."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"

    doc_type = "dummy.order"
    number_prefix = "DO"
    editable_states = ("draft", "submitted")
    transitions = (
        Transition(
            "submit", ("draft",), "submitted", "Submit", "dummy.order_edit", submits_for_approval=True
        ),
        Transition("reopen", ("submitted",), "draft", "Reopen", "dummy.order_edit"),
        Transition("confirm", ("submitted",), "confirmed", "Confirm", "dummy.order_edit"),
        Transition(
            "cancel",
            ("submitted", "confirmed"),
            "cancelled",
            "Cancel",
            "dummy.order_cancel",
            reason_required=True,
        ),
    )

    state = models.CharField(max_length=30, choices=State.choices, default=State.DRAFT, db_index=True)
    customer = models.ForeignKey(
        "core.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="dummy_orders"
    )

    class Meta(Document.Meta):
        pass


class DummyOrderLine(DocumentLine):
    """A line of a dummy order."""

    document = models.ForeignKey(DummyOrder, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        pass
