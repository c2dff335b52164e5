"""Kernel models (tenant schema): document numbering, the document and line bases, the transition log,
approvals and in-app notices.

`Document` and `DocumentLine` are abstract: a module's concrete document (e.g. the dummy module's
`DummyOrder`) subclasses them, declares its `doc_type`, number prefix and state machine, and gets
numbering, totals, guarded transitions, approvals and a PDF from the kernel services.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.platform.models import TimeStampedModel

if TYPE_CHECKING:
    from crm.kernel.states import Transition

ZERO = Decimal("0.00")


class NumberSequence(TimeStampedModel):
    """The last number given to a document type in a year; locked FOR UPDATE while a document is created,
    so numbers are gapless (a rolled-back creation rolls the counter back too) and never repeat."""

    doc_type = models.CharField(_("document type"), max_length=60)
    year = models.PositiveIntegerField(_("year"))
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        ordering = ["doc_type", "year"]
        constraints = [models.UniqueConstraint(fields=["doc_type", "year"], name="kernel_numberseq_unique")]

    def __str__(self) -> str:
        return f"{self.doc_type} {self.year}: {self.last}"


class NumberFormat(TimeStampedModel):
    """A workspace's own prefix for a document type (e.g. "HT" for contracts); without a row the document
    model's `number_prefix` is used."""

    doc_type = models.CharField(_("document type"), max_length=60, unique=True)
    prefix = models.CharField(_("prefix"), max_length=12)

    class Meta:
        ordering = ["doc_type"]

    def __str__(self) -> str:
        return f"{self.doc_type}: {self.prefix}"


class Document(TimeStampedModel):
    """Base of a numbered document with lines. Totals are the sums of the stored line amounts
    (`documents.document_recompute`), never recomputed from a total."""

    # Declared by the concrete model.
    doc_type: ClassVar[str] = ""
    number_prefix: ClassVar[str] = ""
    number_digits: ClassVar[int] = 5
    initial_state: ClassVar[str] = "draft"
    editable_states: ClassVar[tuple[str, ...]] = ("draft",)
    confirmed_state: ClassVar[str] = "confirmed"
    cancelled_state: ClassVar[str] = "cancelled"
    transitions: ClassVar[tuple[Transition, ...]] = ()
    # Fields besides customer, terms, currency and the lines whose change voids an approval.
    material_fields: ClassVar[tuple[str, ...]] = ()

    number = models.CharField(_("number"), max_length=40, unique=True)
    state = models.CharField(_("state"), max_length=30, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    terms = models.TextField(_("terms"), blank=True)
    total_incl = models.DecimalField(_("total (tax incl.)"), max_digits=16, decimal_places=2, default=ZERO)
    total_excl = models.DecimalField(_("total (tax excl.)"), max_digits=16, decimal_places=2, default=ZERO)
    total_tax = models.DecimalField(_("tax"), max_digits=16, decimal_places=2, default=ZERO)
    gross_incl = models.DecimalField(
        _("total before discount"), max_digits=16, decimal_places=2, default=ZERO, editable=False
    )
    cost_excl = models.DecimalField(
        _("cost (tax excl.)"), max_digits=16, decimal_places=2, null=True, blank=True, editable=False
    )

    class Meta:
        abstract = True
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number

    @property
    def discount_percent(self) -> Decimal:
        """Discount of the whole document: 1 - total / total before discount, in percent."""
        if not self.gross_incl:
            return ZERO
        return ((1 - self.total_incl / self.gross_incl) * 100).quantize(Decimal("0.01"))

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin on tax-exclusive amounts, in percent (None when a line has no cost)."""
        if self.cost_excl is None or not self.total_excl:
            return None
        return ((self.total_excl - self.cost_excl) / self.total_excl * 100).quantize(Decimal("0.01"))

    def state_label(self) -> str:
        choices: Any = getattr(self._meta.get_field("state"), "choices", None) or []
        return str(dict(choices).get(self.state, self.state))


class DocumentLine(TimeStampedModel):
    """One line of a document: the three stored amounts follow `crm.kernel.money.line_amounts` on the
    discounted tax-inclusive unit price. The concrete model adds `document = ForeignKey(..., related_name=
    "lines")`."""

    position = models.PositiveIntegerField(_("position"), default=0)
    product = models.ForeignKey(
        "core.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product"),
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    unit_price_incl = models.DecimalField(_("unit price (tax incl.)"), max_digits=14, decimal_places=4)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.13"))
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=ZERO)
    unit_cost_excl = models.DecimalField(
        _("unit cost (tax excl.)"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    amount_incl = models.DecimalField(_("amount (tax incl.)"), max_digits=16, decimal_places=2, default=ZERO)
    amount_excl = models.DecimalField(_("amount (tax excl.)"), max_digits=16, decimal_places=2, default=ZERO)
    amount_tax = models.DecimalField(_("tax"), max_digits=16, decimal_places=2, default=ZERO)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description


class TransitionLog(TimeStampedModel):
    """One state change of any document: who, when (created_at), from, to, why."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    transition = models.CharField(_("transition"), max_length=40)
    from_state = models.CharField(_("from"), max_length=30)
    to_state = models.CharField(_("to"), max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="kernel_translog_obj")]

    def __str__(self) -> str:
        return f"{self.from_state} -> {self.to_state}"


class ApprovalRule(TimeStampedModel):
    """When a document of `doc_type` needs approval: its metric compared with a threshold."""

    class Metric(models.TextChoices):
        AMOUNT = "amount", _("Amount (tax incl.)")
        DISCOUNT = "discount", _("Discount %")
        MARGIN = "margin", _("Margin %")

    class Comparison(models.TextChoices):
        GT = "gt", ">"
        GTE = "gte", ">="
        LT = "lt", "<"
        LTE = "lte", "<="

    doc_type = models.CharField(_("document type"), max_length=60, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    metric = models.CharField(_("metric"), max_length=10, choices=Metric.choices)
    comparison = models.CharField(_("comparison"), max_length=3, choices=Comparison.choices, default="gt")
    threshold = models.DecimalField(_("threshold"), max_digits=16, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["doc_type", "id"]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(TimeStampedModel):
    """One ordered step of a rule: who approves (a role, the owner's manager chain, or a named user)."""

    class Kind(models.TextChoices):
        ROLE = "role", _("Role")
        MANAGER = "manager", _("Owner's manager")
        USER = "user", _("Named user")

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(_("position"), default=1)
    kind = models.CharField(_("approver"), max_length=10, choices=Kind.choices)
    role = models.CharField(_("role"), max_length=20, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return f"{self.rule} #{self.position}"


class ApprovalRequest(TimeStampedModel):
    """An approval of one document under one rule, for the document as it was when submitted: the
    fingerprint of its material fields. A later edit changes the fingerprint and voids the approval."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    doc_type = models.CharField(max_length=60)
    number = models.CharField(_("number"), max_length=40)
    rule = models.ForeignKey(ApprovalRule, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    current_step = models.PositiveIntegerField(default=1)
    fingerprint = models.CharField(max_length=64)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    document_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=ZERO)
    currency = models.CharField(max_length=3, default="CNY")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="kernel_apprreq_obj")]

    def __str__(self) -> str:
        return f"{self.number}: {self.rule}"

    def document(self) -> Any:
        model = self.content_type.model_class()
        assert model is not None
        return model._default_manager.get(pk=self.object_id)


class ApprovalAssignment(TimeStampedModel):
    """Who may decide a step of a request (resolved when the step becomes current): the approvers' queue."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="assignments")
    step = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step", "user"], name="kernel_apprassign_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request} #{self.step}: {self.user}"


class ApprovalDecision(TimeStampedModel):
    """A decision on one step of a request."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveIntegerField()
    outcome = models.CharField(_("decision"), max_length=10, choices=Outcome.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.request} #{self.step}: {self.outcome}"


class Notice(TimeStampedModel):
    """An in-app notice to one user (e.g. "an order waits for your approval"), read or not."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    title = models.CharField(_("title"), max_length=200)
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="kernel_notice_unread")]

    def __str__(self) -> str:
        return self.title
