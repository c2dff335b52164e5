"""REST API of the purchasing capability (/api/v1/purchasing/): suppliers, prices, purchase orders with
their states, receipts and returns, RFQs with quotes, comparison and award, bills, payments and payables
aging. Reads need `purchasing.view`; writes `purchasing.manage`; receipts and returns `purchasing.receive`
(as the pages). Receipts, returns and payments honour an `Idempotency-Key` header."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.modules.core.public import Product
from crm.modules.inventory.public import Warehouse
from crm.platform.errors import NotFound
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Rfq,
    Supplier,
    SupplierBill,
    SupplierContact,
    SupplierPayment,
    SupplierPrice,
)

VIEW_MANAGE = HasPerm("purchasing.view", write="purchasing.manage")
RECEIVE = HasPerm("purchasing.receive")
DEC4: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}
DEC2: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _key(request: Request) -> str | None:
    return (request.headers.get("Idempotency-Key") or "").strip()[:150] or None


def _get(model: Any, pk: int, message: str) -> Any:
    row = model._default_manager.filter(pk=pk).first()
    if row is None:
        raise NotFound(message)
    return row


# --- serializers ---------------------------------------------------------------------------------------


class SupplierContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupplierContact
        fields = ["id", "name", "title", "phone", "email"]


class SupplierSerializer(serializers.ModelSerializer):
    tax_status = serializers.CharField(read_only=True)
    invoice_type = serializers.CharField(read_only=True)

    class Meta:
        model = Supplier
        fields = [
            "id",
            "code",
            "name",
            "tax_status",
            "invoice_type",
            "payment_days",
            "bank_name",
            "bank_account",
            "address",
            "phone",
            "notes",
            "is_active",
            "customer",
        ]


class SupplierDetailSerializer(SupplierSerializer):
    contacts = SupplierContactSerializer(many=True, read_only=True)

    class Meta(SupplierSerializer.Meta):
        fields = [*SupplierSerializer.Meta.fields, "contacts"]


class SupplierInput(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200)
    tax_status = serializers.ChoiceField(
        choices=Supplier.TaxStatus.choices, default=Supplier.TaxStatus.GENERAL
    )
    invoice_type = serializers.ChoiceField(
        choices=Supplier.InvoiceType.choices, default=Supplier.InvoiceType.SPECIAL_13
    )
    payment_days = serializers.IntegerField(min_value=0, max_value=365, default=30)
    bank_name = Text(max_length=100, default="")
    bank_account = Text(max_length=50, default="")
    address = Text(max_length=200, default="")
    phone = Text(max_length=30, default="")
    notes = Text(max_length=2000, default="")
    is_active = serializers.BooleanField(default=True)
    customer = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class ContactInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    title = Text(max_length=100, default="")
    phone = Text(max_length=30, default="")
    email = serializers.EmailField(required=False, default="", allow_blank=True)  # type: ignore[assignment]


class PriceSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)

    class Meta:
        model = SupplierPrice
        fields = [
            "id",
            "supplier",
            "supplier_name",
            "product",
            "product_name",
            "unit_price_incl",
            "vat_rate",
            "valid_from",
            "source",
        ]


class PriceInput(serializers.Serializer):
    supplier = serializers.IntegerField(min_value=1)
    product = serializers.IntegerField(min_value=1)
    unit_price_incl = serializers.DecimalField(min_value=Decimal("0"), **DEC4)
    vat_rate = serializers.DecimalField(required=False, allow_null=True, max_digits=6, decimal_places=4)
    valid_from = serializers.DateField(required=False, allow_null=True)
    source = Text(max_length=100, default="")  # type: ignore[assignment]


class PriceQuery(serializers.Serializer):
    supplier = serializers.IntegerField(required=False, min_value=1)
    product = serializers.IntegerField(required=False, min_value=1)


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = PurchaseOrderLine
        fields = [
            "id",
            "product",
            "description",
            "quantity",
            "unit",
            "unit_price_incl",
            "vat_rate",
            "amount_incl",
            "amount_excl",
            "amount_tax",
            "received_quantity",
            "returned_quantity",
        ]


class PurchaseOrderSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    receipt_status = serializers.CharField(read_only=True)
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "number",
            "state",
            "receipt_status",
            "supplier",
            "supplier_name",
            "warehouse",
            "payment_days",
            "expected_on",
            "currency",
            "terms",
            "total_incl",
            "total_excl",
            "total_tax",
            "rfq",
            "confirmed_at",
            "created_at",
        ]


class PurchaseOrderDetailSerializer(PurchaseOrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta(PurchaseOrderSerializer.Meta):
        fields = [*PurchaseOrderSerializer.Meta.fields, "lines"]


class OrderLineInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(**DEC4)
    unit_price_incl = serializers.DecimalField(**DEC4)
    vat_rate = serializers.DecimalField(required=False, allow_null=True, max_digits=6, decimal_places=4)
    unit = Text(max_length=20, default="")


class PurchaseOrderInput(serializers.Serializer):
    supplier = serializers.IntegerField(min_value=1)
    warehouse = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    payment_days = serializers.IntegerField(min_value=0, max_value=365, required=False, allow_null=True)
    expected_on = serializers.DateField(required=False, allow_null=True)
    terms = Text(max_length=5000, default="")
    lines = OrderLineInput(many=True, allow_empty=False)


class OrderPatch(serializers.Serializer):
    warehouse = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    payment_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    expected_on = serializers.DateField(required=False, allow_null=True)
    terms = Text(max_length=5000, required=False)
    lines = OrderLineInput(many=True, allow_empty=False, required=False)


class OrderQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=PurchaseOrder.State.choices, required=False)
    supplier = serializers.IntegerField(required=False, min_value=1)
    receipt_status = serializers.ChoiceField(choices=PurchaseOrder.ReceiptStatus.choices, required=False)
    q = Text(max_length=100)


class TransitionInput(serializers.Serializer):
    name = serializers.ChoiceField(choices=["submit", "reopen", "confirm", "complete", "cancel"])
    reason = Text(max_length=300, default="")


class ReceiveLineInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(**DEC4)


class ReceiveInput(serializers.Serializer):
    warehouse = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    allow_over = serializers.BooleanField(default=False)
    note = Text(max_length=200, default="")
    lines = ReceiveLineInput(many=True, required=False, allow_empty=False)


class PurchaseReturnInput(serializers.Serializer):
    note = Text(max_length=200, default="")
    lines = ReceiveLineInput(many=True, allow_empty=False, help_text="line: a receipt line id")


class ReceiptLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReceiptLine
        fields = ["id", "order_line", "quantity", "unit_cost", "returned_quantity", "source"]


class PurchaseReceiptSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True)
    lines = ReceiptLineSerializer(many=True, read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)

    class Meta:
        model = Receipt
        fields = ["id", "kind", "number", "order", "order_number", "warehouse", "note", "created_at", "lines"]


class ReceiptQuery(serializers.Serializer):
    order = serializers.IntegerField(required=False, min_value=1)
    kind = serializers.ChoiceField(choices=Receipt.Kind.choices, required=False)


class RfqSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Rfq
        fields = ["id", "number", "title", "state", "due_date", "created_at"]


class RfqLineInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(**DEC4)
    unit = Text(max_length=20, default="")


class RfqInput(serializers.Serializer):
    title = Text(max_length=200, default="")
    due_date = serializers.DateField(required=False, allow_null=True)
    suppliers = serializers.ListField(
        child=serializers.IntegerField(min_value=1), default=list, max_length=50
    )
    lines = RfqLineInput(many=True, allow_empty=False)


class QuotePriceInput(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    unit_price_incl = serializers.DecimalField(**DEC4)
    vat_rate = serializers.DecimalField(required=False, allow_null=True, max_digits=6, decimal_places=4)


class QuoteInput(serializers.Serializer):
    supplier = serializers.IntegerField(min_value=1)
    invoice_type = serializers.ChoiceField(choices=Supplier.InvoiceType.choices, required=False)
    freight = serializers.DecimalField(min_value=Decimal("0"), default=Decimal("0"), **DEC2)
    payment_days = serializers.IntegerField(min_value=0, max_value=365, required=False, allow_null=True)
    notes = Text(max_length=200, default="")
    prices = QuotePriceInput(many=True, allow_empty=False)


class AwardInput(serializers.Serializer):
    choices = serializers.DictField(
        child=serializers.IntegerField(min_value=1), default=dict, help_text="line id -> quote id"
    )


class BillSerializer(serializers.ModelSerializer):
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)

    class Meta:
        model = SupplierBill
        fields = [
            "id",
            "supplier",
            "supplier_name",
            "order",
            "number",
            "amount_incl",
            "paid",
            "bill_date",
            "due_date",
            "note",
        ]


class BillInput(serializers.Serializer):
    supplier = serializers.IntegerField(min_value=1)
    order = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    number = serializers.CharField(max_length=60)
    amount_incl = serializers.DecimalField(**DEC2)
    bill_date = serializers.DateField()
    note = Text(max_length=200, default="")


class BillQuery(serializers.Serializer):
    supplier = serializers.IntegerField(required=False, min_value=1)
    open = serializers.BooleanField(required=False, default=False)


class PaymentSerializer(serializers.ModelSerializer):
    method = serializers.CharField(read_only=True)

    class Meta:
        model = SupplierPayment
        fields = ["id", "supplier", "amount", "paid_on", "method", "reference", "created_at"]


class AllocationInput(serializers.Serializer):
    bill = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(**DEC2)


class PaymentInput(serializers.Serializer):
    supplier = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(**DEC2)
    paid_on = serializers.DateField()
    method = serializers.ChoiceField(
        choices=SupplierPayment.Method.choices, default=SupplierPayment.Method.BANK
    )
    reference = Text(max_length=100, default="")
    allocations = AllocationInput(many=True, required=False)


class SupplierQuery(serializers.Serializer):
    q = Text(max_length=100)


class PayablesAgingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    not_due = serializers.DecimalField(**DEC2)
    d1_30 = serializers.DecimalField(**DEC2)
    d31_60 = serializers.DecimalField(**DEC2)
    d61_90 = serializers.DecimalField(**DEC2)
    d90_plus = serializers.DecimalField(**DEC2)
    total = serializers.DecimalField(**DEC2)


def _supplier(pk: int) -> Supplier:
    return _get(Supplier, pk, _("No such supplier."))  # type: ignore[no-any-return]


def _warehouse(pk: int | None) -> Warehouse | None:
    return None if pk is None else _get(Warehouse, pk, _("No such warehouse."))


def _order_lines(rows: list[dict[str, Any]]) -> list[services.OrderLineInput]:
    return [
        services.OrderLineInput(
            product_id=r["product"],
            quantity=r["quantity"],
            unit_price_incl=r["unit_price_incl"],
            vat_rate=r.get("vat_rate"),
            unit=r["unit"],
        )
        for r in rows
    ]


# --- suppliers -------------------------------------------------------------------------------------------


class SupplierList(generics.ListAPIView):
    """GET suppliers (?q= code, name or phone); POST one (purchasing.manage)."""

    serializer_class = SupplierSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[Supplier]:
        f = parse_query(SupplierQuery, self.request)
        return selectors.supplier_list(actor=_actor(self.request), q=f.get("q", ""))

    @extend_schema(request=SupplierInput, responses={201: SupplierDetailSerializer})
    def post(self, request: Request) -> Response:
        data = parse(SupplierInput, request.data)
        supplier = services.supplier_create(actor=_actor(request), **data)
        return Response(SupplierDetailSerializer(supplier).data, status=status.HTTP_201_CREATED)


class SupplierDetail(APIView):
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    @extend_schema(responses={200: SupplierDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SupplierDetailSerializer(selectors.supplier_get(actor=_actor(request), pk=pk)).data)

    @extend_schema(request=SupplierInput, responses={200: SupplierDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        supplier = selectors.supplier_get(actor=_actor(request), pk=pk)
        data = parse(SupplierInput, request.data, partial=True)
        supplier = services.supplier_update(actor=_actor(request), supplier=supplier, **data)
        return Response(SupplierDetailSerializer(supplier).data)


class SupplierContacts(APIView):
    permission_classes = [IsAuthenticated, HasPerm("purchasing.manage")]

    @extend_schema(request=ContactInput, responses={201: SupplierContactSerializer})
    def post(self, request: Request, pk: int) -> Response:
        supplier = selectors.supplier_get(actor=_actor(request), pk=pk)
        data = parse(ContactInput, request.data)
        contact = services.supplier_contact_add(actor=_actor(request), supplier=supplier, **data)
        return Response(SupplierContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class PriceList(generics.ListAPIView):
    """GET the price history (?supplier=, ?product=), newest first; POST a price."""

    serializer_class = PriceSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[SupplierPrice]:
        f = parse_query(PriceQuery, self.request)
        return selectors.price_list(
            actor=_actor(self.request), supplier_id=f.get("supplier"), product_id=f.get("product")
        )

    @extend_schema(request=PriceInput, responses={201: PriceSerializer})
    def post(self, request: Request) -> Response:
        data = parse(PriceInput, request.data)
        product = _get(Product, data["product"], _("No such product."))
        price = services.supplier_price_add(
            actor=_actor(request),
            supplier=_supplier(data["supplier"]),
            product=product,
            unit_price_incl=data["unit_price_incl"],
            vat_rate=data.get("vat_rate"),
            valid_from=data.get("valid_from"),
            source=data["source"],
        )
        return Response(PriceSerializer(price).data, status=status.HTTP_201_CREATED)


# --- orders ----------------------------------------------------------------------------------------------


class OrderList(generics.ListAPIView):
    """GET purchase orders; POST a draft (purchasing.manage)."""

    serializer_class = PurchaseOrderSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[PurchaseOrder]:
        f = parse_query(OrderQuery, self.request)
        return selectors.order_list(
            actor=_actor(self.request),
            state=f.get("state", ""),
            supplier_id=f.get("supplier"),
            receipt_status=f.get("receipt_status", ""),
            q=f.get("q", ""),
        )

    @extend_schema(request=PurchaseOrderInput, responses={201: PurchaseOrderDetailSerializer})
    def post(self, request: Request) -> Response:
        data = parse(PurchaseOrderInput, request.data)
        order = services.order_create(
            actor=_actor(request),
            supplier=_supplier(data["supplier"]),
            lines=_order_lines(data["lines"]),
            warehouse=_warehouse(data.get("warehouse")),
            payment_days=data.get("payment_days"),
            expected_on=data.get("expected_on"),
            terms=data["terms"],
        )
        return Response(PurchaseOrderDetailSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetail(APIView):
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    @extend_schema(responses={200: PurchaseOrderDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(PurchaseOrderDetailSerializer(selectors.order_get(actor=_actor(request), pk=pk)).data)

    @extend_schema(request=OrderPatch, responses={200: PurchaseOrderDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        order = selectors.order_get(actor=_actor(request), pk=pk)
        data = parse(OrderPatch, request.data)
        lines = _order_lines(data.pop("lines")) if "lines" in data else None
        if "warehouse" in data:
            data["warehouse"] = _warehouse(data["warehouse"])
        order = services.order_update(actor=_actor(request), order=order, lines=lines, **data)
        return Response(PurchaseOrderDetailSerializer(selectors.order_get(actor=_actor(request), pk=pk)).data)


class OrderTransition(APIView):
    permission_classes = [IsAuthenticated, HasPerm("purchasing.manage")]

    @extend_schema(request=TransitionInput, responses={200: PurchaseOrderDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        order = selectors.order_get(actor=_actor(request), pk=pk)
        data = parse(TransitionInput, request.data)
        services.order_transition(
            actor=_actor(request), order=order, name=data["name"], reason=data["reason"]
        )
        return Response(PurchaseOrderDetailSerializer(selectors.order_get(actor=_actor(request), pk=pk)).data)


class OrderReceive(APIView):
    """POST a receipt: `lines` (order line id, quantity) or none for everything open; more than ordered
    needs `allow_over: true`. Same Idempotency-Key: received once."""

    permission_classes = [IsAuthenticated, RECEIVE]

    @extend_schema(request=ReceiveInput, responses={201: PurchaseReceiptSerializer})
    def post(self, request: Request, pk: int) -> Response:
        order = selectors.order_get(actor=_actor(request), pk=pk)
        data = parse(ReceiveInput, request.data)
        lines = (
            [services.ReceiveInput(r["line"], r["quantity"]) for r in data["lines"]]
            if "lines" in data
            else None
        )
        receipt = services.receipt_create(
            actor=_actor(request),
            order=order,
            lines=lines,
            warehouse=_warehouse(data.get("warehouse")),
            allow_over=data["allow_over"],
            idempotency_key=_key(request),
            note=data["note"],
        )
        return Response(PurchaseReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


class OrderReturn(APIView):
    """POST a return to the supplier: `lines` (receipt line id, quantity), at the cost received."""

    permission_classes = [IsAuthenticated, RECEIVE]

    @extend_schema(request=PurchaseReturnInput, responses={201: PurchaseReceiptSerializer})
    def post(self, request: Request, pk: int) -> Response:
        order = selectors.order_get(actor=_actor(request), pk=pk)
        data = parse(PurchaseReturnInput, request.data)
        ret = services.return_create(
            actor=_actor(request),
            order=order,
            lines=[services.ReceiveInput(r["line"], r["quantity"]) for r in data["lines"]],
            idempotency_key=_key(request),
            note=data["note"],
        )
        return Response(PurchaseReceiptSerializer(ret).data, status=status.HTTP_201_CREATED)


class ReceiptList(generics.ListAPIView):
    serializer_class = PurchaseReceiptSerializer
    permission_classes = [IsAuthenticated, HasPerm("purchasing.view")]

    def get_queryset(self) -> QuerySet[Receipt]:
        f = parse_query(ReceiptQuery, self.request)
        return selectors.receipt_list(
            actor=_actor(self.request), order_id=f.get("order"), kind=f.get("kind", "")
        ).prefetch_related("lines")


# --- RFQs ------------------------------------------------------------------------------------------------


class RfqList(generics.ListAPIView):
    serializer_class = RfqSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[Rfq]:
        return selectors.rfq_list(actor=_actor(self.request))

    @extend_schema(request=RfqInput, responses={201: RfqSerializer})
    def post(self, request: Request) -> Response:
        data = parse(RfqInput, request.data)
        suppliers = [_supplier(pk) for pk in dict.fromkeys(data["suppliers"])]
        rfq = services.rfq_create(
            actor=_actor(request),
            lines=[services.RfqLineInput(r["product"], r["quantity"], r["unit"]) for r in data["lines"]],
            suppliers=suppliers,
            title=data["title"],
            due_date=data.get("due_date"),
        )
        return Response(RfqSerializer(rfq).data, status=status.HTTP_201_CREATED)


class OfferSerializer(serializers.Serializer):
    """One supplier's offer for an RFQ line, with the parts of its real cost (documentation only)."""

    quote = serializers.IntegerField()
    supplier = serializers.IntegerField()
    supplier_name = serializers.CharField()
    rank = serializers.IntegerField()
    cheapest = serializers.BooleanField()
    unit_price_incl = serializers.CharField()
    vat_rate = serializers.CharField()
    deductible = serializers.BooleanField()
    base = serializers.CharField()
    freight_share = serializers.CharField()
    payment_terms_cost = serializers.CharField()
    real_cost = serializers.CharField()


class ComparisonLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.IntegerField()
    product_name = serializers.CharField()
    quantity = serializers.CharField()
    chosen_quote = serializers.IntegerField(allow_null=True)
    offers = OfferSerializer(many=True)


class RfqComparisonSerializer(RfqSerializer):
    """An RFQ with its comparison table (the answer of GET rfqs/<id>/ and of entering a quote)."""

    lines = ComparisonLineSerializer(many=True, read_only=True)

    class Meta(RfqSerializer.Meta):
        fields = [*RfqSerializer.Meta.fields, "lines"]


def _comparison(rfq: Rfq) -> dict[str, Any]:
    rows = selectors.rfq_comparison(rfq=rfq)
    return {
        **RfqSerializer(rfq).data,
        "lines": [
            {
                "id": row.line.pk,
                "product": row.line.product_id,
                "product_name": row.line.product.name,
                "quantity": str(row.line.quantity),
                "chosen_quote": row.line.chosen_quote_id,
                "offers": [
                    {
                        "quote": o.quote.pk,
                        "supplier": o.quote.supplier_id,
                        "supplier_name": o.quote.supplier.name,
                        "rank": o.rank,
                        "cheapest": o.cheapest,
                        "unit_price_incl": str(o.price_incl),
                        "vat_rate": str(o.vat_rate),
                        "deductible": o.cost.deductible,
                        "base": str(o.cost.base),
                        "freight_share": str(o.cost.freight),
                        "payment_terms_cost": str(o.cost.terms),
                        "real_cost": str(o.real),
                    }
                    for o in row.offers
                ],
            }
            for row in rows
        ],
    }


class RfqDetail(APIView):
    """GET an RFQ with its comparison table: each line's quotes ranked by real cost per unit."""

    permission_classes = [IsAuthenticated, HasPerm("purchasing.view")]

    @extend_schema(responses=RfqComparisonSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_comparison(selectors.rfq_get(actor=_actor(request), pk=pk)))


class RfqQuotes(APIView):
    permission_classes = [IsAuthenticated, HasPerm("purchasing.manage")]

    @extend_schema(request=QuoteInput, responses={201: RfqComparisonSerializer})
    def post(self, request: Request, pk: int) -> Response:
        rfq = selectors.rfq_get(actor=_actor(request), pk=pk)
        data = parse(QuoteInput, request.data)
        services.quote_save(
            actor=_actor(request),
            rfq=rfq,
            supplier=_supplier(data["supplier"]),
            prices=[
                services.QuotePrice(p["line"], p["unit_price_incl"], p.get("vat_rate"))
                for p in data["prices"]
            ],
            freight=data["freight"],
            payment_days=data.get("payment_days"),
            invoice_type=data.get("invoice_type"),
            notes=data["notes"],
        )
        return Response(_comparison(rfq), status=status.HTTP_201_CREATED)


class RfqAward(APIView):
    """POST: one draft purchase order per chosen supplier (default: the cheapest per line); idempotent."""

    permission_classes = [IsAuthenticated, HasPerm("purchasing.manage")]

    @extend_schema(request=AwardInput, responses={200: PurchaseOrderSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        rfq = selectors.rfq_get(actor=_actor(request), pk=pk)
        data = parse(AwardInput, request.data)
        choices: dict[int, int] = {}
        for key, value in data["choices"].items():
            if not str(key).isdigit():
                raise serializers.ValidationError({"choices": [_("Use RFQ line ids as keys.")]})
            choices[int(key)] = value
        orders = services.rfq_award(actor=_actor(request), rfq=rfq, choices=choices)
        return Response(PurchaseOrderSerializer(orders, many=True).data)


# --- payables --------------------------------------------------------------------------------------------


class BillList(generics.ListAPIView):
    serializer_class = BillSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[SupplierBill]:
        f = parse_query(BillQuery, self.request)
        return selectors.bill_list(
            actor=_actor(self.request), supplier_id=f.get("supplier"), open_only=f.get("open", False)
        )

    @extend_schema(request=BillInput, responses={201: BillSerializer})
    def post(self, request: Request) -> Response:
        data = parse(BillInput, request.data)
        order = None
        if data.get("order"):
            order = _get(PurchaseOrder, data["order"], _("No such purchase order."))
        bill = services.bill_create(
            actor=_actor(request),
            supplier=_supplier(data["supplier"]),
            number=data["number"],
            amount_incl=data["amount_incl"],
            bill_date=data["bill_date"],
            order=order,
            note=data["note"],
        )
        return Response(BillSerializer(bill).data, status=status.HTTP_201_CREATED)


class PaymentList(generics.ListAPIView):
    serializer_class = PaymentSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[SupplierPayment]:
        f = parse_query(PriceQuery, self.request)
        return selectors.payment_list(actor=_actor(self.request), supplier_id=f.get("supplier"))

    @extend_schema(request=PaymentInput, responses={201: PaymentSerializer})
    def post(self, request: Request) -> Response:
        data = parse(PaymentInput, request.data)
        allocations = None
        if "allocations" in data:
            allocations = {a["bill"]: a["amount"] for a in data["allocations"]}
        payment = services.payment_create(
            actor=_actor(request),
            supplier=_supplier(data["supplier"]),
            amount=data["amount"],
            paid_on=data["paid_on"],
            method=data["method"],
            reference=data["reference"],
            allocations=allocations,
            idempotency_key=_key(request),
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class AgingList(generics.ListAPIView):
    """Open payables per supplier: not due, 1-30, 31-60, 61-90, over 90 days overdue (tenant's today)."""

    serializer_class = PayablesAgingSerializer
    permission_classes = [IsAuthenticated, HasPerm("purchasing.view")]
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return selectors.aging(actor=_actor(self.request))
