"""Inventory data (tenant schema): warehouses, stock settings of core products, unit conversions, the
append-only stock ledger (`StockMove`), one balance row per (warehouse, product) kept in step with the ledger
by `services.stock_post` (the only writer of both), reservations, and the module's own stock documents
(transfers, counts, opening stock, adjustments)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.modules.core.public import Product
from crm.platform.models import TimeStampedModel

ZERO = Decimal("0")


class InventorySettings(TimeStampedModel):
    """The workspace's inventory settings: one row (pk=1)."""

    allow_negative = models.BooleanField(_("allow negative stock"), default=False)
    # Where confirmed orders reserve and ship from (empty: the first active stock warehouse by code).
    default_warehouse = models.ForeignKey(
        "Warehouse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("default warehouse"),
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("inventory settings")

    def __str__(self) -> str:
        return "inventory settings"


class Warehouse(TimeStampedModel):
    """A place where stock is kept (仓库); kind "sample" is a location for samples out with customers."""

    class Kind(models.TextChoices):
        STOCK = "stock", _("Warehouse")
        SAMPLE = "sample", _("Sample location")

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STOCK)
    is_active = models.BooleanField(_("active"), default=True)
    allows_negative = models.BooleanField(_("allows negative stock"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("warehouse")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockProduct(TimeStampedModel):
    """Stock settings of one core product (the core's Product stays untouched)."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="stock_settings")
    tracked = models.BooleanField(_("stock-tracked"), default=True)
    base_unit = models.CharField(_("base unit"), max_length=20, blank=True)
    min_stock = models.DecimalField(_("minimum stock"), max_digits=18, decimal_places=4, default=ZERO)
    reorder_qty = models.DecimalField(_("reorder quantity"), max_digits=18, decimal_places=4, default=ZERO)

    class Meta:
        ordering = ["product_id"]
        verbose_name = _("stock product")

    def __str__(self) -> str:
        return f"stock settings of product {self.product_id}"


class UnitConversion(TimeStampedModel):
    """One unit of a product in base units: 箱 = 12 件 is (箱, 12)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="unit_conversions")
    unit = models.CharField(_("unit"), max_length=20)
    factor = models.DecimalField(_("base units per unit"), max_digits=18, decimal_places=4)

    class Meta:
        ordering = ["product_id", "unit"]
        verbose_name = _("unit conversion")
        constraints = [
            models.UniqueConstraint(fields=["product", "unit"], name="inventory_unit_unique"),
            models.CheckConstraint(condition=models.Q(factor__gt=0), name="inventory_unit_factor_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.unit} = {self.factor}"


class StockDocument(TimeStampedModel):
    """A document of this module that posts moves: a transfer, a stock count (盘点), opening stock, or an
    adjustment (also the API's free postings). Posted when created; never edited afterwards."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", _("Transfer")
        COUNT = "count", _("Stock count")
        OPENING = "opening", _("Opening stock")
        ADJUSTMENT = "adjustment", _("Adjustment")
        POSTING = "posting", _("Posting")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=40, unique=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    to_warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stock document")

    def __str__(self) -> str:
        return self.number


class StockDocumentLine(TimeStampedModel):
    """A line of a stock document: the quantity moved (base units); for a count also what the books said
    and what was counted."""

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    expected = models.DecimalField(_("book quantity"), max_digits=18, decimal_places=4, null=True, blank=True)
    counted = models.DecimalField(
        _("counted quantity"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    unit_cost = models.DecimalField(_("unit cost"), max_digits=18, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["document_id", "id"]
        verbose_name = _("stock document line")

    def __str__(self) -> str:
        return f"{self.document_id}: {self.product_id} {self.quantity}"


class StockPosting(TimeStampedModel):
    """One call of `stock_post`, found by its idempotency key: a retried call returns this posting's moves
    and writes nothing."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    document_type = models.CharField(max_length=60, blank=True)
    document_id = models.BigIntegerField(null=True, blank=True)
    document_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stock posting")

    def __str__(self) -> str:
        return self.idempotency_key


class StockMove(models.Model):
    """One line of the stock ledger: append-only, never updated or deleted. Quantity in base units, signed
    (+ in, − out); value = the signed amount of stock value it adds or removes (tax-exclusive); unit cost
    is per base unit. A cost correction is an adjustment with quantity 0 and a value."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        DELIVERY = "delivery", _("Delivery")
        RETURN_IN = "return_in", _("Customer return")
        RETURN_OUT = "return_out", _("Return to supplier")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        TRANSFER_OUT = "transfer_out", _("Transfer out")
        ADJUSTMENT = "adjustment", _("Adjustment")
        OPENING = "opening", _("Opening stock")

    posting = models.ForeignKey(StockPosting, on_delete=models.PROTECT, related_name="moves")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    unit_cost = models.DecimalField(_("unit cost"), max_digits=18, decimal_places=4)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=2)
    # The document behind the line ("inventory.stockdocument", "sales.order", ...), its id, line and number.
    document_type = models.CharField(max_length=60, blank=True)
    document_id = models.BigIntegerField(null=True, blank=True)
    document_line_id = models.BigIntegerField(null=True, blank=True)
    document_number = models.CharField(_("document"), max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=220, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_at = models.DateTimeField(_("posted at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name = _("stock move")
        indexes = [
            # History per product, and "stock as of" (sums of the moves before a time) per pair.
            models.Index(fields=["product", "warehouse", "posted_at"], name="inventory_move_pair_at"),
            models.Index(fields=["posted_at"], name="inventory_move_at"),
            models.Index(fields=["document_type", "document_id"], name="inventory_move_doc"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id}@{self.warehouse_id} {self.quantity}"


class StockBalance(models.Model):
    """On hand, reserved and value of one product in one warehouse; equals the sums of its moves (checked
    daily). Average cost = value / on hand, to 4 places; kept from the last receipt when on hand is 0."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="balances")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(_("on hand"), max_digits=18, decimal_places=4, default=ZERO)
    reserved = models.DecimalField(_("reserved"), max_digits=18, decimal_places=4, default=ZERO)
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=2, default=ZERO)
    average_cost = models.DecimalField(_("average cost"), max_digits=18, decimal_places=4, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "warehouse_id"]
        verbose_name = _("stock balance")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="inventory_balance_unique"),
            models.CheckConstraint(condition=models.Q(average_cost__gte=0), name="inventory_avg_cost_gte_0"),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="inventory_reserved_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}: {self.on_hand}"

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class Reservation(TimeStampedModel):
    """Stock held for a document line (a confirmed order line): available = on hand − reserved."""

    document_type = models.CharField(max_length=60)
    document_id = models.BigIntegerField()
    document_line_id = models.BigIntegerField(default=0)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.DecimalField(_("open quantity"), max_digits=18, decimal_places=4, default=ZERO)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("reservation")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_id", "document_line_id", "product", "warehouse"],
                name="inventory_reservation_unique",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="inventory_reservation_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.document_type}#{self.document_id}: {self.quantity}"


class Delivery(TimeStampedModel):
    """A delivery (发货/出库) of a confirmed sales contract or order from one warehouse: its lines post
    `delivery` moves (one posting per delivery) and raise the contract lines' delivered quantity."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    contract = models.ForeignKey(
        "sales.Contract", on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("order")
    )
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    waybill = models.CharField(_("waybill number"), max_length=60, blank=True)
    carrier = models.CharField(_("carrier"), max_length=60, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), db_index=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return self.number


class DeliveryLine(TimeStampedModel):
    """A shipped line: the contract line, quantity (the line's unit) and the value of its stock move (the
    cost it left with); `returned` is what customers sent back of it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="lines")
    contract_line_id = models.BigIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(_("description"), max_length=300, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    base_quantity = models.DecimalField(_("quantity (base unit)"), max_digits=18, decimal_places=4)
    value = models.DecimalField(_("cost"), max_digits=18, decimal_places=2, default=ZERO)
    returned = models.DecimalField(_("returned"), max_digits=18, decimal_places=4, default=ZERO)

    class Meta:
        ordering = ["delivery_id", "id"]
        verbose_name = _("delivery line")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="inventory_delivery_qty_gt_0"),
            models.CheckConstraint(
                condition=models.Q(returned__gte=0) & models.Q(returned__lte=models.F("quantity")),
                name="inventory_delivery_returned_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.product_id} {self.quantity}"

    @property
    def unit_cost(self) -> Decimal:
        """Cost per unit of the line (what a return comes back at)."""
        return (self.value / self.quantity).quantize(Decimal("0.0001")) if self.quantity else ZERO

    @property
    def returnable(self) -> Decimal:
        return self.quantity - self.returned


class CustomerReturn(TimeStampedModel):
    """A customer return (退货入库) against a delivery: stock comes back (`return_in`) at the cost it left
    with, the contract lines' delivered quantity and actual cost go down."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="returns")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("customer return")

    def __str__(self) -> str:
        return self.number


class CustomerReturnLine(TimeStampedModel):
    """A returned quantity of one delivery line, at that line's unit cost."""

    customer_return = models.ForeignKey(CustomerReturn, on_delete=models.CASCADE, related_name="lines")
    delivery_line = models.ForeignKey(DeliveryLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    value = models.DecimalField(_("cost"), max_digits=18, decimal_places=2, default=ZERO)

    class Meta:
        ordering = ["customer_return_id", "id"]
        verbose_name = _("customer return line")

    def __str__(self) -> str:
        return f"{self.customer_return_id}: {self.quantity}"


class Sample(TimeStampedModel):
    """Samples (样品) issued to a customer: moved from a stock warehouse to a sample location, then per line
    returned, consumed or turned into an order. Open while a line is still out."""

    class State(models.TextChoices):
        OPEN = "open", _("Out")
        CLOSED = "closed", _("Closed")

    number = models.CharField(_("number"), max_length=40, unique=True)
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("sales rep")
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    expected_return = models.DateField(_("expected return"), null=True, blank=True, db_index=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    reminded_on = models.DateField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)  # the draft order a sample turned into
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("sample issue")
        indexes = [
            models.Index(fields=["owner", "state"], name="inventory_sample_owner"),
            models.Index(fields=["customer", "state"], name="inventory_sample_cust"),
        ]

    def __str__(self) -> str:
        return self.number


class SampleLine(TimeStampedModel):
    """One product out as a sample and what became of it."""

    class Outcome(models.TextChoices):
        OUT = "out", _("Out")
        RETURNED = "returned", _("Returned")
        CONSUMED = "consumed", _("Consumed")
        CONVERTED = "converted", _("Turned into an order")

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OUT)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sample_id", "id"]
        verbose_name = _("sample line")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="inventory_sample_qty_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id}: {self.product_id} {self.quantity}"
