"""Purchasing data (tenant schema): suppliers with contacts and price history, requests for quotation and
the suppliers' quotes, purchase orders (a kernel Document) with their receipts and returns, supplier bills,
payments and their allocations, and the workspace's purchasing settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.kernel.models import Document, DocumentLine
from crm.kernel.states import Transition
from crm.modules.core.public import Customer, Product
from crm.modules.inventory.public import Warehouse
from crm.platform.models import TimeStampedModel

ZERO = Decimal("0")
QTY: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}
MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


class PurchasingSettings(TimeStampedModel):
    """The workspace's purchasing settings: one row (pk=1). `input_vat_deductible`: the workspace is a
    general VAT taxpayer and deducts the input VAT of special invoices (so their tax is no cost);
    `capital_rate_percent`: the yearly cost of money, which prices the supplier's credit days."""

    input_vat_deductible = models.BooleanField(_("input VAT is deductible"), default=True)
    capital_rate_percent = models.DecimalField(
        _("cost of capital (% a year)"), max_digits=5, decimal_places=2, default=Decimal("6.00")
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("purchasing settings")

    def __str__(self) -> str:
        return "purchasing settings"


class Supplier(TimeStampedModel):
    """A supplier (供应商): its own list, not the customer list. A company that is also a customer is linked
    once through `customer`."""

    class TaxStatus(models.TextChoices):
        GENERAL = "general", _("General taxpayer")
        SMALL_SCALE = "small_scale", _("Small-scale taxpayer")

    class InvoiceType(models.TextChoices):
        SPECIAL_13 = "special_13", _("Special VAT invoice 13%")
        GENERAL_3 = "general_3", _("General invoice 3%")
        GENERAL_1 = "general_1", _("General invoice 1%")
        NONE = "none", _("No invoice")

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)
    tax_status = models.CharField(
        _("tax status"), max_length=12, choices=TaxStatus.choices, default=TaxStatus.GENERAL
    )
    invoice_type = models.CharField(
        _("invoice given"), max_length=12, choices=InvoiceType.choices, default=InvoiceType.SPECIAL_13
    )
    payment_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    customer = models.OneToOneField(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supplier",
        verbose_name=_("also a customer"),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("supplier")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def vat_rate(self) -> Decimal:
        return INVOICE_RATES[self.invoice_type]

    @property
    def gives_deductible_invoice(self) -> bool:
        return self.invoice_type == self.InvoiceType.SPECIAL_13


# The VAT rate of each kind of invoice; only a special VAT invoice gives deductible input VAT.
INVOICE_RATES: dict[str, Decimal] = {
    Supplier.InvoiceType.SPECIAL_13: Decimal("0.13"),
    Supplier.InvoiceType.GENERAL_3: Decimal("0.03"),
    Supplier.InvoiceType.GENERAL_1: Decimal("0.01"),
    Supplier.InvoiceType.NONE: Decimal("0.00"),
}


class SupplierContact(TimeStampedModel):
    """A person at a supplier."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)

    class Meta:
        ordering = ["supplier_id", "id"]
        verbose_name = _("supplier contact")

    def __str__(self) -> str:
        return self.name


class SupplierPrice(TimeStampedModel):
    """One price a supplier gave for a product (tax included), from a date: the history; the newest row
    per (supplier, product) is its last price."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="prices")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    unit_price_incl = models.DecimalField(_("unit price (tax incl.)"), **QTY)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.13"))
    valid_from = models.DateField(_("valid from"))
    source = models.CharField(_("source"), max_length=100, blank=True)

    class Meta:
        ordering = ["-valid_from", "-id"]
        verbose_name = _("supplier price")
        indexes = [
            models.Index(fields=["supplier", "product", "-valid_from", "-id"], name="purch_price_last"),
            models.Index(fields=["product", "-valid_from"], name="purch_price_product"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier_id}/{self.product_id}: {self.unit_price_incl}"


# --- requests for quotation ------------------------------------------------------------------------------


class Rfq(TimeStampedModel):
    """A request for quotation (询价单) for several lines, sent to several suppliers."""

    class State(models.TextChoices):
        OPEN = "open", _("Collecting quotes")
        AWARDED = "awarded", _("Ordered")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    due_date = models.DateField(_("quotes due"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("request for quotation")

    def __str__(self) -> str:
        return self.number


class RfqLine(TimeStampedModel):
    """A line asked for: product and quantity; `chosen_quote` is the supplier the buyer picked."""

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    chosen_quote = models.ForeignKey(
        "SupplierQuote", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["rfq_id", "position", "id"]
        verbose_name = _("RFQ line")

    def __str__(self) -> str:
        return f"{self.rfq_id}: {self.product_id} × {self.quantity}"


class SupplierQuote(TimeStampedModel):
    """A supplier's answer to an RFQ, entered by the buyer: prices per line, freight for the whole quote,
    payment terms and the invoice it comes with."""

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="quotes")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="quotes")
    invoice_type = models.CharField(_("invoice given"), max_length=12, choices=Supplier.InvoiceType.choices)
    freight = models.DecimalField(_("freight"), default=ZERO, **MONEY)
    payment_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=0)
    notes = models.CharField(_("notes"), max_length=200, blank=True)

    class Meta:
        ordering = ["rfq_id", "id"]
        verbose_name = _("supplier quote")
        constraints = [models.UniqueConstraint(fields=["rfq", "supplier"], name="purch_quote_unique")]

    def __str__(self) -> str:
        return f"{self.rfq_id}/{self.supplier_id}"


class SupplierQuoteLine(TimeStampedModel):
    """The price quoted for one RFQ line (tax included); no row: the supplier did not quote it."""

    quote = models.ForeignKey(SupplierQuote, on_delete=models.CASCADE, related_name="lines")
    rfq_line = models.ForeignKey(RfqLine, on_delete=models.CASCADE, related_name="quote_lines")
    unit_price_incl = models.DecimalField(_("unit price (tax incl.)"), **QTY)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.13"))

    class Meta:
        ordering = ["quote_id", "rfq_line_id"]
        verbose_name = _("quote line")
        constraints = [models.UniqueConstraint(fields=["quote", "rfq_line"], name="purch_quote_line_unique")]

    def __str__(self) -> str:
        return f"{self.quote_id}/{self.rfq_line_id}: {self.unit_price_incl}"


# --- purchase orders -------------------------------------------------------------------------------------


class PurchaseOrder(Document):
    """A purchase order (采购单) to one supplier: approved by the workspace's rules for "purchasing.order",
    received (partly) into a warehouse after confirmation."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        CONFIRMED = "confirmed", _("Confirmed")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class ReceiptStatus(models.TextChoices):
        NONE = "none", _("Not received")
        PARTIAL = "partial", _("Partly received")
        FULL = "full", _("Received")

    doc_type = "purchasing.order"
    number_prefix = "CG"
    editable_states = ("draft",)
    transitions = (
        Transition(
            "submit", ("draft",), "submitted", _("Submit"), "purchasing.manage", submits_for_approval=True
        ),
        Transition("reopen", ("submitted",), "draft", _("Back to draft"), "purchasing.manage"),
        Transition("confirm", ("submitted",), "confirmed", _("Confirm"), "purchasing.manage"),
        Transition("complete", ("confirmed",), "completed", _("Complete"), "purchasing.manage"),
        Transition(
            "cancel",
            ("draft", "submitted", "confirmed"),
            "cancelled",
            _("Cancel"),
            "purchasing.manage",
            reason_required=True,
        ),
    )
    material_fields = ("supplier", "payment_days")

    state = models.CharField(
        _("state"), max_length=30, choices=State.choices, default=State.DRAFT, db_index=True
    )
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="orders", verbose_name=_("supplier")
    )
    warehouse = models.ForeignKey(
        Warehouse,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("receiving warehouse"),
    )
    payment_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30)
    expected_on = models.DateField(_("expected on"), null=True, blank=True)
    receipt_status = models.CharField(
        _("received"), max_length=8, choices=ReceiptStatus.choices, default=ReceiptStatus.NONE
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    # The RFQ it was awarded from: one order per (RFQ, supplier), so awarding twice creates nothing new.
    rfq = models.ForeignKey(Rfq, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")

    class Meta(Document.Meta):
        verbose_name = _("purchase order")
        constraints = [
            models.UniqueConstraint(
                fields=["rfq", "supplier"],
                condition=models.Q(rfq__isnull=False),
                name="purch_order_rfq_supplier",
            )
        ]
        indexes = [models.Index(fields=["supplier", "-created_at"], name="purch_order_supplier")]


class PurchaseOrderLine(DocumentLine):
    """A line of a purchase order; quantities in the line's unit. `received_quantity` is what is in stock
    from it (receipts minus returns)."""

    document = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    received_quantity = models.DecimalField(_("received"), default=ZERO, **QTY)
    returned_quantity = models.DecimalField(_("returned"), default=ZERO, **QTY)

    class Meta(DocumentLine.Meta):
        verbose_name = _("purchase order line")

    @property
    def open_quantity(self) -> Decimal:
        return max(self.quantity - self.received_quantity, ZERO)


class Receipt(TimeStampedModel):
    """A receipt of goods (入库, RK) into a warehouse, or a return to the supplier (退货, TH), for one
    purchase order. Posted when created, never edited; `idempotency_key` makes a retried request post once."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Goods receipt")
        RETURN = "return", _("Return to supplier")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.RECEIPT)
    number = models.CharField(_("number"), max_length=40, unique=True)
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("goods receipt")

    def __str__(self) -> str:
        return self.number


class ReceiptLine(TimeStampedModel):
    """A received (or returned) quantity of an order line, in the line's unit, at `unit_cost` per unit: the
    stock cost (tax-exclusive when the input VAT is deducted, else tax-inclusive). A return line names the
    receipt line it sends back and leaves at its cost."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), **QTY)
    returned_quantity = models.DecimalField(_("returned"), default=ZERO, **QTY)
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )

    class Meta:
        ordering = ["receipt_id", "id"]
        verbose_name = _("goods receipt line")

    def __str__(self) -> str:
        return f"{self.receipt_id}: {self.order_line_id} × {self.quantity}"


# --- payables --------------------------------------------------------------------------------------------


class SupplierBill(TimeStampedModel):
    """A supplier's bill (应付账单): its own number, the amount to pay (tax incl.), due after the supplier's
    payment terms. `paid` is the sum of the payments allocated to it."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="bills")
    order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="bills"
    )
    number = models.CharField(_("bill number"), max_length=60)
    amount_incl = models.DecimalField(_("amount (tax incl.)"), **MONEY)
    paid = models.DecimalField(_("amount paid"), default=ZERO, **MONEY)
    bill_date = models.DateField(_("bill date"))
    due_date = models.DateField(_("due date"), db_index=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("supplier bill")
        constraints = [
            models.UniqueConstraint(fields=["supplier", "number"], name="purch_bill_unique"),
            models.CheckConstraint(
                condition=models.Q(paid__lte=models.F("amount_incl")), name="purch_bill_paid_lte"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def open_amount(self) -> Decimal:
        return self.amount_incl - self.paid


class SupplierPayment(TimeStampedModel):
    """A payment to a supplier, allocated to its bills (what is not allocated is a prepayment)."""

    class Method(models.TextChoices):
        BANK = "bank", _("Bank transfer")
        ACCEPTANCE = "acceptance", _("Bank acceptance bill")
        CASH = "cash", _("Cash")
        OTHER = "other", _("Other")

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_on = models.DateField(_("paid on"))
    method = models.CharField(_("method"), max_length=12, choices=Method.choices, default=Method.BANK)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-paid_on", "-id"]
        verbose_name = _("supplier payment")

    def __str__(self) -> str:
        return f"{self.supplier_id}: {self.amount}"


class PaymentAllocation(TimeStampedModel):
    """The part of a payment that pays a bill."""

    payment = models.ForeignKey(SupplierPayment, on_delete=models.CASCADE, related_name="allocations")
    bill = models.ForeignKey(SupplierBill, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        ordering = ["id"]
        verbose_name = _("payment allocation")

    def __str__(self) -> str:
        return f"{self.payment_id} -> {self.bill_id}: {self.amount}"
