"""REST API of the inventory module (/api/v1/inventory/): warehouses, balances, moves, stock as of a date,
transfers, counts, reorder suggestions, the stock value and free postings. Reads need `inventory.view`,
writes `inventory.manage` (as the pages)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.filters import parse_since
from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.kernel.tenant_time import tenant_today
from crm.platform.errors import NotFound, ServiceError
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import StockBalance, StockDocument, StockDocumentLine, StockMove, StockProduct, Warehouse

VIEW_MANAGE = HasPerm("inventory.view", write="inventory.manage")
# Transfers go through their own route (both moves in one document).
POSTABLE = ("receipt", "delivery", "return_in", "return_out", "adjustment", "opening")


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# --- serializers ---------------------------------------------------------------------------------------


def _kinds(choices: Any) -> str:
    return ", ".join(str(value) for value, _label in choices)


class WarehouseSerializer(serializers.ModelSerializer):
    # Plain strings, not enums: "kind" names other choice sets in other modules' schemas.
    kind = serializers.CharField(read_only=True, help_text=_kinds(Warehouse.Kind.choices))

    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "address", "kind", "is_active", "allows_negative"]


class WarehouseInput(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=100)
    address = Text(max_length=200, default="")
    kind = serializers.CharField(default=Warehouse.Kind.STOCK, help_text=_kinds(Warehouse.Kind.choices))

    def validate_kind(self, value: str) -> str:
        if value not in Warehouse.Kind.values:
            raise serializers.ValidationError(_("Choose a kind."))
        return value

    is_active = serializers.BooleanField(default=True)
    allows_negative = serializers.BooleanField(default=False)


class BalanceSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    available = serializers.DecimalField(
        source="available_qty", read_only=True, max_digits=18, decimal_places=4
    )
    min_stock = serializers.DecimalField(read_only=True, max_digits=18, decimal_places=4)

    class Meta:
        model = StockBalance
        fields = [
            "id",
            "product",
            "product_name",
            "warehouse",
            "warehouse_code",
            "on_hand",
            "reserved",
            "available",
            "value",
            "average_cost",
            "min_stock",
        ]


class MoveSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=_kinds(StockMove.Kind.choices))
    product_name = serializers.CharField(source="product.name", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "posted_at",
            "kind",
            "product",
            "product_name",
            "warehouse",
            "warehouse_code",
            "quantity",
            "unit_cost",
            "value",
            "document_type",
            "document_id",
            "document_number",
            "reason",
        ]


class AsOfRowSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    value = serializers.DecimalField(max_digits=18, decimal_places=2)


class StockDocumentLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = StockDocumentLine
        fields = ["product", "quantity", "expected", "counted", "unit_cost"]


class StockDocumentSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=_kinds(StockDocument.Kind.choices))
    lines = StockDocumentLineSerializer(many=True, read_only=True)

    class Meta:
        model = StockDocument
        fields = ["id", "kind", "number", "warehouse", "to_warehouse", "reason", "created_at", "lines"]


class ReorderSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    available = serializers.DecimalField(
        source="available_qty", read_only=True, max_digits=18, decimal_places=4
    )
    suggested = serializers.DecimalField(read_only=True, max_digits=18, decimal_places=4)

    class Meta:
        model = StockProduct
        fields = ["product", "product_name", "min_stock", "reorder_qty", "available", "suggested"]


class LineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(min_value=Decimal("0"), max_digits=18, decimal_places=4)
    unit = Text(max_length=20, default="")


class TransferInput(serializers.Serializer):
    from_warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    to_warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    reason = Text(max_length=200, default="")
    lines = LineInputSerializer(many=True, allow_empty=False)


class CountInput(serializers.Serializer):
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    reason = serializers.CharField(max_length=200)
    lines = LineInputSerializer(many=True, allow_empty=False)


class MoveInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    warehouse = serializers.IntegerField(min_value=1)
    kind = serializers.CharField(help_text=", ".join(POSTABLE))
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    unit_cost = serializers.DecimalField(
        required=False, allow_null=True, min_value=Decimal("0"), max_digits=18, decimal_places=4
    )
    unit = Text(max_length=20, default="")
    reason = Text(max_length=200, default="")
    document_line_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate_kind(self, value: str) -> str:
        if value not in POSTABLE:
            raise serializers.ValidationError(_("Choose a kind of move."))
        return value


class PostInput(serializers.Serializer):
    reason = Text(max_length=200, default="")
    document_type = Text(max_length=60, default="")
    document_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    document_number = Text(max_length=40, default="")
    moves = MoveInput(many=True, allow_empty=False)


class PostResultSerializer(serializers.Serializer):
    document = StockDocumentSerializer(allow_null=True)
    moves = MoveSerializer(many=True)


class ValueSerializer(serializers.Serializer):
    value = serializers.DecimalField(max_digits=18, decimal_places=2)
    currency = serializers.CharField()


class BalanceQuery(serializers.Serializer):
    warehouse = serializers.IntegerField(required=False, min_value=1)
    product = serializers.IntegerField(required=False, min_value=1)
    low = serializers.BooleanField(required=False, default=False)
    q = Text(max_length=100)


class MoveQuery(serializers.Serializer):
    warehouse = serializers.IntegerField(required=False, min_value=1)
    product = serializers.IntegerField(required=False, min_value=1)
    since = Text(max_length=40)

    def validate_since(self, value: str) -> Any:
        if not value:
            return None
        parsed = parse_since(value)
        if parsed is None:
            raise serializers.ValidationError(_("Enter a date or date-time in ISO 8601."))
        return parsed


class AsOfQuery(serializers.Serializer):
    date = serializers.DateField(required=False)
    warehouse = serializers.IntegerField(required=False, min_value=1)
    product = serializers.IntegerField(required=False, min_value=1)


class WarehouseQuery(serializers.Serializer):
    warehouse = serializers.IntegerField(required=False, min_value=1)


def _lines(rows: list[dict[str, Any]]) -> list[services.LineInput]:
    return [services.LineInput(product_id=r["product"], quantity=r["quantity"], unit=r["unit"]) for r in rows]


def _key(request: Request) -> str | None:
    return (request.headers.get("Idempotency-Key") or "").strip()[:150] or None


# --- views ---------------------------------------------------------------------------------------------


class WarehouseList(generics.ListAPIView):
    """GET the warehouses; POST one (inventory.manage)."""

    serializer_class = WarehouseSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def get_queryset(self) -> QuerySet[Warehouse]:
        return selectors.warehouse_list(actor=_actor(self.request))

    @extend_schema(request=WarehouseInput, responses={201: WarehouseSerializer})
    def post(self, request: Request) -> Response:
        data = parse(WarehouseInput, request.data)
        wh = services.warehouse_save(actor=_actor(request), **data)
        return Response(WarehouseSerializer(wh).data, status=status.HTTP_201_CREATED)


class WarehouseDetail(APIView):
    permission_classes = [IsAuthenticated, VIEW_MANAGE]

    def _get(self, pk: int) -> Warehouse:
        wh = Warehouse.objects.filter(pk=pk).first()
        if wh is None:
            raise NotFound(_("No such warehouse."))
        return wh

    @extend_schema(responses={200: WarehouseSerializer})
    def get(self, request: Request, pk: int) -> Response:
        selectors.require_view(_actor(request))
        return Response(WarehouseSerializer(self._get(pk)).data)

    @extend_schema(request=WarehouseInput, responses={200: WarehouseSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        wh = self._get(pk)
        parse(WarehouseInput, request.data, partial=True)  # a body that is not an object: 400, not a merge
        current = WarehouseSerializer(wh).data
        data = parse(WarehouseInput, {**{k: v for k, v in current.items() if k != "id"}, **request.data})
        wh = services.warehouse_save(actor=_actor(request), warehouse=wh, **data)
        return Response(WarehouseSerializer(wh).data)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("warehouse", int, description="Only this warehouse."),
            OpenApiParameter("product", int, description="Only this product."),
            OpenApiParameter(
                "low", bool, description="Only balances whose available stock is below minimum."
            ),
            OpenApiParameter("q", str, description="Product name or code."),
        ]
    )
)
class BalanceList(generics.ListAPIView):
    serializer_class = BalanceSerializer
    permission_classes = [IsAuthenticated, HasPerm("inventory.view")]

    def get_queryset(self) -> QuerySet[StockBalance]:
        f = parse_query(BalanceQuery, self.request)
        return selectors.balance_list(
            actor=_actor(self.request),
            warehouse_id=f.get("warehouse"),
            product_id=f.get("product"),
            low=f.get("low", False),
            q=f.get("q", ""),
        )


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("warehouse", int, description="Only this warehouse."),
            OpenApiParameter("product", int, description="Only this product."),
            OpenApiParameter("since", str, description="Moves posted at or after this ISO 8601 date-time."),
        ]
    )
)
class MoveList(generics.ListAPIView):
    serializer_class = MoveSerializer
    permission_classes = [IsAuthenticated, HasPerm("inventory.view")]

    def get_queryset(self) -> QuerySet[StockMove]:
        f = parse_query(MoveQuery, self.request)
        return selectors.move_list(
            actor=_actor(self.request),
            product_id=f.get("product"),
            warehouse_id=f.get("warehouse"),
            since=f.get("since"),
        )


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="The day (YYYY-MM-DD, default today), to its end."),
            OpenApiParameter("warehouse", int, description="Only this warehouse."),
            OpenApiParameter("product", int, description="Only this product."),
        ]
    )
)
class StockAsOf(generics.ListAPIView):
    """Quantity and value per product and warehouse at the end of a day, summed from the moves."""

    serializer_class = AsOfRowSerializer
    permission_classes = [IsAuthenticated, HasPerm("inventory.view")]
    filter_backends: list[Any] = []  # aggregated rows: no updated_since, no ordering by model fields

    def get_queryset(self) -> Any:
        f = parse_query(AsOfQuery, self.request)
        return selectors.stock_as_of(
            actor=_actor(self.request),
            day=f.get("date") or tenant_today(),
            warehouse_id=f.get("warehouse"),
            product_id=f.get("product"),
        )


class _DocumentList(generics.ListAPIView):
    serializer_class = StockDocumentSerializer
    permission_classes = [IsAuthenticated, VIEW_MANAGE]
    kind = ""

    def get_queryset(self) -> QuerySet[StockDocument]:
        return selectors.document_list(actor=_actor(self.request), kind=self.kind).prefetch_related("lines")


class TransferList(_DocumentList):
    """GET transfers; POST one (transfer out and in, in one posting; Idempotency-Key honoured)."""

    kind = StockDocument.Kind.TRANSFER

    @extend_schema(request=TransferInput, responses={201: StockDocumentSerializer})
    def post(self, request: Request) -> Response:
        data = parse(TransferInput, request.data)
        doc = services.transfer_create(
            actor=_actor(request),
            from_warehouse=data["from_warehouse"],
            to_warehouse=data["to_warehouse"],
            lines=_lines(data["lines"]),
            reason=data["reason"],
            idempotency_key=_key(request),
        )
        return Response(StockDocumentSerializer(doc).data, status=status.HTTP_201_CREATED)


class CountList(_DocumentList):
    """GET stock counts; POST one (counted quantities; the differences are posted as adjustments)."""

    kind = StockDocument.Kind.COUNT

    @extend_schema(request=CountInput, responses={201: StockDocumentSerializer})
    def post(self, request: Request) -> Response:
        data = parse(CountInput, request.data)
        doc = services.count_create(
            actor=_actor(request),
            warehouse=data["warehouse"],
            lines=_lines(data["lines"]),
            reason=data["reason"],
            idempotency_key=_key(request),
        )
        return Response(StockDocumentSerializer(doc).data, status=status.HTTP_201_CREATED)


class Post(APIView):
    """POST moves (receipts, deliveries, returns, adjustments, opening stock) with an `Idempotency-Key`
    header: the same key posts once. Without a document, an adjustment document is created."""

    permission_classes = [IsAuthenticated, HasPerm("inventory.manage")]

    @extend_schema(
        request=PostInput,
        responses={201: PostResultSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
    )
    def post(self, request: Request) -> Response:
        data = parse(PostInput, request.data)
        key = _key(request)
        if key is None:
            raise ServiceError(_("Send an Idempotency-Key header."), field="idempotency_key")
        moves = [
            services.MoveData(
                product_id=m["product"],
                warehouse_id=m["warehouse"],
                quantity=m["quantity"],
                kind=m["kind"],
                unit_cost=m.get("unit_cost"),
                unit=m["unit"],
                reason=m["reason"] or data["reason"],
                document_line_id=m.get("document_line_id"),
            )
            for m in data["moves"]
        ]
        ref = None
        if data["document_type"]:
            ref = services.DocumentRef(
                type=data["document_type"], id=data.get("document_id"), number=data["document_number"]
            )
        doc, posted = services.posting_create(
            actor=_actor(request), moves=moves, idempotency_key=key, reason=data["reason"], document=ref
        )
        body = {
            "document": StockDocumentSerializer(doc).data if doc else None,
            "moves": MoveSerializer(posted, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ReorderList(generics.ListAPIView):
    """Products whose available stock is below their minimum, with a suggested quantity."""

    serializer_class = ReorderSerializer
    permission_classes = [IsAuthenticated, HasPerm("inventory.view")]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[StockProduct]:
        return selectors.reorder_suggestions(actor=_actor(self.request))


class StockValue(APIView):
    permission_classes = [IsAuthenticated, HasPerm("inventory.view")]

    @extend_schema(
        responses={200: ValueSerializer},
        parameters=[OpenApiParameter("warehouse", int, description="Only this warehouse.")],
    )
    def get(self, request: Request) -> Response:
        f = parse_query(WarehouseQuery, request)
        total = selectors.stock_value_total(actor=_actor(request), warehouse_id=f.get("warehouse"))
        return Response({"value": str(total), "currency": "CNY"})
