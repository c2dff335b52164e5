"""Sales documents capability (tenant schema): opportunities, quotes, contracts and orders, payment plans,
receipts and their allocations, invoicing requests and fapiao, monthly targets.

Quotes and contracts are kernel documents (`crm.kernel.models.Document`): numbering, lines with stored
tax-inclusive / tax-exclusive / tax amounts, guarded transitions, approvals and the PDF come from the kernel.
Each line keeps its estimated unit cost (tax excl.), so margins are computed on tax-exclusive amounts.
Money is Decimal with the document's currency; dates that a user picks are plain dates in the tenant's zone.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.kernel.models import Document, DocumentLine
from crm.kernel.states import Transition
from crm.platform.models import TimeStampedModel

ZERO = Decimal("0.00")


class SalesSettings(TimeStampedModel):
    """The workspace's sales settings (one row, created on first read by `selectors.sales_settings`)."""

    class TargetBasis(models.TextChoices):
        CONTRACTS = "contracts", _("Confirmed contracts")
        RECEIPTS = "receipts", _("Receipts")

    target_basis = models.CharField(
        _("targets are measured by"),
        max_length=10,
        choices=TargetBasis.choices,
        default=TargetBasis.CONTRACTS,
    )
    # Reps see a document's margin percent (never unit costs) when this is on.
    reps_see_margin_percent = models.BooleanField(_("reps see the margin percent"), default=False)
    remind_days_before = models.PositiveSmallIntegerField(_("remind days before the due date"), default=3)
    remind_days_after = models.PositiveSmallIntegerField(_("remind days after the due date"), default=1)
    quote_valid_days = models.PositiveSmallIntegerField(_("quotes are valid for (days)"), default=30)
    default_payment_days = models.PositiveSmallIntegerField(_("default account period (days)"), default=30)
    quote_terms = models.TextField(_("default quote terms"), blank=True)
    contract_terms = models.TextField(_("default contract terms"), blank=True)

    class Meta:
        verbose_name = _("sales settings")

    def __str__(self) -> str:
        return "sales settings"


class Stage(TimeStampedModel):
    """A pipeline stage of the workspace. Won and lost exist once each and cannot be removed or renamed
    away from their kind; open stages are the tenant's own, ordered by `position`."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(_("probability %"), default=10)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices, default=Kind.OPEN)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=~models.Q(kind="open"), name="sales_stage_one_won_one_lost"
            ),
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="sales_stage_probability"),
        ]

    def __str__(self) -> str:
        return self.name


class Opportunity(TimeStampedModel):
    """A possible sale (商机) on a customer, owned by a rep."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "core.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="opportunities",
        verbose_name=_("owner"),
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage")
    )
    status = models.CharField(
        _("status"), max_length=4, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    amount = models.DecimalField(_("amount"), default=ZERO, max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    # Probability in percent; follows the stage unless the rep overrides it.
    probability = models.PositiveSmallIntegerField(_("probability %"), default=10)
    expected_close = models.DateField(_("expected close"), null=True, blank=True, db_index=True)
    source = models.CharField(_("source"), max_length=60, blank=True)
    competitor = models.CharField(_("competitor"), max_length=200, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)
    # Position of the furthest stage other than lost the opportunity ever reached (its stage log), kept by
    # every stage change and recomputed when stages are renumbered: stage conversion reads one table.
    reached_position = models.SmallIntegerField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [models.Index(fields=["owner", "status"], name="sales_opp_owner_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / 100).quantize(Decimal("0.01"))


class OpportunityProduct(TimeStampedModel):
    """A product the opportunity is about (quantity and expected price, tax incl.)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="products")
    product = models.ForeignKey(
        "core.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4, default=Decimal("1"))
    unit_price_incl = models.DecimalField(
        _("unit price (tax incl.)"), max_digits=14, decimal_places=4, default=ZERO
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.product_id}"


class OpportunityStageLog(TimeStampedModel):
    """One stage change of an opportunity (created_at is when): cycle time and stage conversion read it."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_log")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["to_stage", "created_at"], name="sales_stagelog_to")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} -> {self.to_stage_id}"


class Quote(Document):
    """A quote (报价单). Revising a sent quote creates a new version with the same `root`; the old one
    becomes superseded and stays readable."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        SUPERSEDED = "superseded", _("Superseded")
        CANCELLED = "cancelled", _("Cancelled")

    doc_type = "sales.quote"
    number_prefix = "BJ"
    editable_states = ("draft",)
    confirmed_state = "sent"  # a quote that needs approval (discount, margin) is approved before it is sent
    transitions = (
        # No submits_for_approval here: "sent" is the confirmed state, so the kernel's approval guard
        # checks it; the documents services submit a quote that needs approval before it is sent.
        Transition("send", ("draft",), "sent", _("Mark as sent"), "sales.quote_edit"),
        Transition("accept", ("sent",), "accepted", _("Accepted by the customer"), "sales.quote_edit"),
        Transition(
            "reject",
            ("sent",),
            "rejected",
            _("Rejected by the customer"),
            "sales.quote_edit",
            reason_required=True,
        ),
        Transition("expire", ("sent",), "expired", _("Expired"), "sales.quote_edit"),
        Transition(
            "supersede",
            ("draft", "sent", "rejected", "expired"),
            "superseded",
            _("Superseded"),
            "sales.quote_edit",
        ),
        Transition(
            "cancel", ("draft", "sent"), "cancelled", _("Cancel"), "sales.quote_edit", reason_required=True
        ),
    )
    material_fields = ("valid_until",)

    state = models.CharField(
        _("state"), max_length=30, choices=State.choices, default=State.DRAFT, db_index=True
    )
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="quotes", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "core.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    opportunity = models.ForeignKey(
        Opportunity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quotes",
        verbose_name=_("opportunity"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    root = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("first version"),
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta(Document.Meta):
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")


class QuoteLine(DocumentLine):
    document = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        pass


# Contract states whose installments are receivable (aging, reminders, statements).
OPEN_STATES = ("confirmed", "completed")


class Contract(Document):
    """A contract (合同) or an order (订单): the same document, `kind` says which. After confirmation the
    lines change only through a revision (变更, `ContractRevision`), approved like the original."""

    class Kind(models.TextChoices):
        CONTRACT = "contract", _("Contract")
        ORDER = "order", _("Order")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        CONFIRMED = "confirmed", _("Confirmed")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class Progress(models.TextChoices):
        NONE = "none", _("None")
        PARTIAL = "partial", _("Partial")
        FULL = "full", _("Full")

    doc_type = "sales.contract"
    number_prefix = "HT"
    editable_states = ("draft",)
    transitions = (
        Transition(
            "submit", ("draft",), "submitted", _("Submit"), "sales.contract_edit", submits_for_approval=True
        ),
        Transition("reopen", ("submitted",), "draft", _("Back to draft"), "sales.contract_edit"),
        Transition("confirm", ("submitted",), "confirmed", _("Confirm"), "sales.contract_edit"),
        Transition("complete", ("confirmed",), "completed", _("Complete"), "sales.contract_edit"),
        Transition(
            "cancel",
            ("draft", "submitted", "confirmed"),
            "cancelled",
            _("Cancel"),
            "sales.contract_cancel",
            reason_required=True,
        ),
    )
    material_fields = ("payment_days", "prepayment_percent", "start_date", "end_date")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.CONTRACT)
    state = models.CharField(
        _("state"), max_length=30, choices=State.choices, default=State.DRAFT, db_index=True
    )
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="contracts", verbose_name=_("customer")
    )
    contact = models.ForeignKey(
        "core.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    opportunity = models.ForeignKey(
        Opportunity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contracts",
        verbose_name=_("opportunity"),
    )
    quote = models.ForeignKey(
        Quote,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contracts",
        verbose_name=_("quote"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    payment_days = models.PositiveSmallIntegerField(_("account period (days)"), default=30)
    prepayment_percent = models.DecimalField(_("prepayment %"), max_digits=5, decimal_places=2, default=ZERO)
    delivery_terms = models.TextField(_("delivery terms"), blank=True)
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    signed_on = models.DateField(_("signed on"), null=True, blank=True, db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True, db_index=True)
    revision = models.PositiveSmallIntegerField(_("revision"), default=0)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    # Stored progress, kept by the services that deliver, invoice and collect (list pages read them).
    delivery_status = models.CharField(
        _("delivered"), max_length=8, choices=Progress.choices, default=Progress.NONE
    )
    invoice_status = models.CharField(
        _("invoiced"), max_length=8, choices=Progress.choices, default=Progress.NONE
    )
    payment_status = models.CharField(
        _("paid"), max_length=8, choices=Progress.choices, default=Progress.NONE
    )
    invoiced_amount = models.DecimalField(_("invoiced amount"), default=ZERO, max_digits=16, decimal_places=2)
    paid_amount = models.DecimalField(_("paid amount"), default=ZERO, max_digits=16, decimal_places=2)

    class Meta(Document.Meta):
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        indexes = [models.Index(fields=["customer", "state"], name="sales_contract_cust_state")]

    @property
    def open_amount(self) -> Decimal:
        return self.total_incl - self.paid_amount


class ContractLine(DocumentLine):
    document = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="lines")
    delivered_quantity = models.DecimalField(_("delivered"), max_digits=14, decimal_places=4, default=ZERO)
    # Cost of what was delivered (tax excl.), from the outbound stock moves when inventory is on.
    actual_cost_excl = models.DecimalField(
        _("actual cost (tax excl.)"), null=True, blank=True, max_digits=16, decimal_places=2
    )

    class Meta(DocumentLine.Meta):
        pass


class ContractRevision(TimeStampedModel):
    """A change (变更) of a confirmed contract: the proposed lines and terms as JSON, the difference to
    the current ones, and its own approval; applied to the contract when approved."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveSmallIntegerField(_("revision"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    reason = models.TextField(_("reason"))
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    total_before = models.DecimalField(_("total before"), default=ZERO, max_digits=16, decimal_places=2)
    total_after = models.DecimalField(_("total after"), default=ZERO, max_digits=16, decimal_places=2)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["contract", "number"]
        constraints = [models.UniqueConstraint(fields=["contract", "number"], name="sales_revision_unique")]

    def __str__(self) -> str:
        return f"{self.contract_id} r{self.number}"


class Installment(TimeStampedModel):
    """One installment of a contract's payment plan (回款计划); the plan adds up to the contract total."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="installments")
    # Denormalised from the contract so aging and reminders filter without a join.
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The contract is in OPEN_STATES; denormalised so the receivables reports read one table. Written by
    # `services_receivables.sync_contract_open` on every contract transition and when a plan is written.
    contract_open = models.BooleanField(default=False, editable=False)
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    due_date = models.DateField(_("due date"), db_index=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    paid_amount = models.DecimalField(_("paid"), default=ZERO, max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    note = models.CharField(_("note"), max_length=200, blank=True)
    reminded_before_at = models.DateTimeField(null=True, blank=True)
    reminded_after_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["contract", "position", "id"]
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        indexes = [models.Index(fields=["owner", "due_date"], name="sales_inst_owner_due")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="sales_inst_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(paid_amount__gte=0, paid_amount__lte=models.F("amount")),
                name="sales_inst_paid_within",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} #{self.position}"

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.paid_amount


class Receipt(TimeStampedModel):
    """Money received from a customer (回款). Allocated to installments and contracts; what is not
    allocated is the customer's credit. A posted receipt is never edited: it is reversed with a reason."""

    class Method(models.TextChoices):
        BANK = "bank", _("Bank transfer")
        CASH = "cash", _("Cash")
        WECHAT = "wechat", _("WeChat Pay")
        ALIPAY = "alipay", _("Alipay")
        ACCEPTANCE = "acceptance", _("Bank acceptance bill")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        POSTED = "posted", _("Posted")
        REVERSED = "reversed", _("Reversed")

    number = models.CharField(_("number"), max_length=40, unique=True)
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="receipts")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    allocated_amount = models.DecimalField(_("allocated"), default=ZERO, max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    received_on = models.DateField(_("received on"), db_index=True)
    method = models.CharField(_("method"), max_length=12, choices=Method.choices, default=Method.BANK)
    bank_reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.POSTED)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversal_reason = models.CharField(_("reversal reason"), max_length=300, blank=True)
    # A form token (or the API's Idempotency-Key): a double-clicked save records one receipt.
    client_token = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="sales_receipt_positive")
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def unallocated(self) -> Decimal:
        return self.amount - self.allocated_amount


class ReceiptAllocation(TimeStampedModel):
    """Part of a receipt applied to a contract (and to one of its installments when it has a plan)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="allocations")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(
        Installment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="sales_alloc_positive")]

    def __str__(self) -> str:
        return f"{self.receipt_id} -> {self.contract_id}: {self.amount}"


class InvoiceRequest(TimeStampedModel):
    """A rep's request that finance issue a fapiao for a contract (or one installment of it)."""

    class State(models.TextChoices):
        OPEN = "open", _("Requested")
        ISSUED = "issued", _("Issued")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoice_requests")
    installment = models.ForeignKey(
        Installment, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoice_requests"
    )
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    kind = models.CharField(_("kind"), max_length=10, default="special")
    buyer_title = models.CharField(_("buyer title"), max_length=200, blank=True)
    buyer_tax_id = models.CharField(_("buyer tax id"), max_length=30, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.amount}"


class Fapiao(TimeStampedModel):
    """An issued fapiao (发票) for a contract, or a red-letter one (红字) reversing another (`red_of`,
    negative amounts)."""

    class Kind(models.TextChoices):
        SPECIAL = "special", _("Special VAT fapiao")
        ORDINARY = "ordinary", _("Ordinary VAT fapiao")
        DIGITAL = "digital", _("Fully digital fapiao")

    number = models.CharField(_("fapiao number"), max_length=30, unique=True)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="fapiaos")
    request = models.ForeignKey(
        InvoiceRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="fapiaos"
    )
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SPECIAL)
    issued_on = models.DateField(_("issued on"), db_index=True)
    amount_incl = models.DecimalField(_("amount (tax incl.)"), max_digits=16, decimal_places=2)
    amount_excl = models.DecimalField(_("amount (tax excl.)"), max_digits=16, decimal_places=2)
    amount_tax = models.DecimalField(_("tax"), max_digits=16, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.13"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    buyer_title = models.CharField(_("buyer title"), max_length=200)
    buyer_tax_id = models.CharField(_("buyer tax id"), max_length=30, blank=True)
    red_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="red_letter",
        verbose_name=_("reverses"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    provider = models.CharField(_("issued through"), max_length=30, default="manual")
    provider_reference = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-issued_on", "-id"]
        verbose_name = _("fapiao")
        verbose_name_plural = _("fapiao")

    def __str__(self) -> str:
        return self.number


class Target(TimeStampedModel):
    """A monthly sales target of one rep (`user`) or one team (`team`), exactly one of the two."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("rep"),
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("team"),
    )
    amount = models.DecimalField(_("target"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")

    class Meta:
        ordering = ["-month", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, team__isnull=True)
                    | models.Q(user__isnull=True, team__isnull=False)
                ),
                name="sales_target_user_xor_team",
            ),
            models.UniqueConstraint(fields=["month", "user"], name="sales_target_user_month"),
            models.UniqueConstraint(fields=["month", "team"], name="sales_target_team_month"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="sales_target_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.amount}"


# --- pipeline area -------------------------------------------------------------------------------------


class OpportunityActivity(TimeStampedModel):
    """A core activity (follow-up on the customer) logged from an opportunity: it counts for the customer's
    pool clock like any follow-up, and the opportunity page lists it."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="activity_links")
    activity = models.OneToOneField(
        "core.Activity", on_delete=models.CASCADE, related_name="opportunity_link"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.activity_id}"
