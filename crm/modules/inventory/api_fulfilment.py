"""REST API for selling from stock and samples (/api/v1/inventory/): the "to ship" list, deliveries (list,
detail, create with an Idempotency-Key), customer returns, samples (list, detail, issue, line actions,
turn into an order). Deliveries and returns need `inventory.ship` (a sales rep cannot ship), samples
`inventory.sample` with the rep's data scope."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import crm.modules.sales.public as sales
from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.modules.core.public import customers_visible
from crm.platform.errors import NotFound
from crm.tenants.accounts.models import User

from . import selectors_fulfilment as sel
from . import services_fulfilment as svc
from .models import CustomerReturn, CustomerReturnLine, Delivery, DeliveryLine, Sample, SampleLine, Warehouse

SHIP = HasPerm("inventory.ship")
SAMPLE = HasPerm("inventory.sample")


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _key(request: Request) -> str | None:
    return (request.headers.get("Idempotency-Key") or "").strip()[:150] or None


def _http404_to_notfound(fn: Any, message: str) -> Any:
    from django.http import Http404

    try:
        return fn()
    except Http404:
        raise NotFound(message) from None


# --- serializers -----------------------------------------------------------------------------------------


class ToShipSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    delivery_status = serializers.CharField(read_only=True)

    class Meta:
        model = sales.Contract
        fields = ["id", "number", "kind", "customer", "customer_name", "confirmed_at", "delivery_status"]


class DeliveryLineSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = DeliveryLine
        fields = [
            "id",
            "contract_line_id",
            "product",
            "product_name",
            "description",
            "unit",
            "quantity",
            "base_quantity",
            "value",
            "returned",
        ]


class StockDeliverySerializer(serializers.ModelSerializer):
    contract_number = serializers.CharField(source="contract.number", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    lines = DeliveryLineSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "number",
            "contract",
            "contract_number",
            "customer",
            "customer_name",
            "warehouse",
            "warehouse_code",
            "waybill",
            "carrier",
            "shipped_at",
            "note",
            "lines",
        ]


class ShipLineInput(serializers.Serializer):
    contract_line = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)


class DeliveryInput(serializers.Serializer):
    contract = serializers.IntegerField(min_value=1)
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all(), required=False)
    lines = ShipLineInput(many=True, allow_empty=False)
    waybill = Text(max_length=60, default="")
    carrier = Text(max_length=60, default="")
    note = Text(max_length=300, default="")


class ReturnLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerReturnLine
        fields = ["id", "delivery_line", "quantity", "value"]


class ReturnSerializer(serializers.ModelSerializer):
    lines = ReturnLineSerializer(many=True, read_only=True)
    delivery_number = serializers.CharField(source="delivery.number", read_only=True)

    class Meta:
        model = CustomerReturn
        fields = ["id", "number", "delivery", "delivery_number", "warehouse", "reason", "created_at", "lines"]


class ReturnLineInput(serializers.Serializer):
    delivery_line = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)


class CustomerReturnInput(serializers.Serializer):
    delivery = serializers.IntegerField(min_value=1)
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all(), required=False)
    lines = ReturnLineInput(many=True, allow_empty=False)
    reason = Text(max_length=200, default="")


class SampleLineSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    outcome = serializers.CharField(read_only=True)

    class Meta:
        model = SampleLine
        fields = ["id", "product", "product_name", "quantity", "outcome", "reason", "closed_at"]


class SampleSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    state = serializers.CharField(read_only=True)
    lines = SampleLineSerializer(many=True, read_only=True)

    class Meta:
        model = Sample
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "owner",
            "owner_name",
            "warehouse",
            "location",
            "state",
            "expected_return",
            "note",
            "order_id",
            "created_at",
            "lines",
        ]


class SampleLineInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)


class SampleInput(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1)
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all(), required=False)
    lines = SampleLineInput(many=True, allow_empty=False)
    expected_return = serializers.DateField(required=False, allow_null=True)
    note = Text(max_length=300, default="")


class SampleActionInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["return", "consume", "convert"])
    line = serializers.IntegerField(min_value=1, required=False)
    reason = Text(max_length=200, default="")


class SampleQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=Sample.State.values, required=False)
    owner = serializers.IntegerField(min_value=1, required=False)
    customer = serializers.IntegerField(min_value=1, required=False)
    overdue = serializers.BooleanField(required=False)


class SearchQuery(serializers.Serializer):
    q = Text(max_length=100, required=False, default="")


# --- views -----------------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("q", str, description="Order or customer.")])
)
class ToShipList(generics.ListAPIView):
    """Confirmed contracts and orders with stock-tracked lines still open."""

    serializer_class = ToShipSerializer
    permission_classes = [IsAuthenticated, SHIP]

    def get_queryset(self) -> QuerySet[Any]:
        f = parse_query(SearchQuery, self.request)
        return sel.to_ship(actor=_actor(self.request), q=f.get("q", ""))


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("q", str, description="Number, waybill.")])
)
class DeliveryList(generics.ListAPIView):
    """GET deliveries; POST one (Idempotency-Key honoured: a retried request ships once)."""

    serializer_class = StockDeliverySerializer
    permission_classes = [IsAuthenticated, SHIP]

    def get_queryset(self) -> QuerySet[Delivery]:
        f = parse_query(SearchQuery, self.request)
        return sel.delivery_list(actor=_actor(self.request), q=f.get("q", "")).prefetch_related(
            "lines__product"
        )

    @extend_schema(
        request=DeliveryInput,
        responses={201: StockDeliverySerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        data = parse(DeliveryInput, request.data)
        contract = sales.Contract.objects.filter(pk=data["contract"]).first()
        if contract is None:
            raise NotFound(_("No such contract or order."))
        delivery = svc.delivery_create(
            actor=_actor(request),
            contract=contract,
            warehouse=data.get("warehouse") or svc.default_warehouse(),
            lines=[(ln["contract_line"], ln["quantity"]) for ln in data["lines"]],
            waybill=data["waybill"],
            carrier=data["carrier"],
            note=data["note"],
            idempotency_key=_key(request),
        )
        saved = (
            sel.delivery_list(actor=_actor(request)).prefetch_related("lines__product").get(pk=delivery.pk)
        )
        return Response(StockDeliverySerializer(saved).data, status=status.HTTP_201_CREATED)


class DeliveryDetail(APIView):
    permission_classes = [IsAuthenticated, SHIP]

    @extend_schema(responses={200: StockDeliverySerializer})
    def get(self, request: Request, pk: int) -> Response:
        found = _http404_to_notfound(
            lambda: sel.delivery_get(actor=_actor(request), pk=pk), _("No such delivery.")
        )
        return Response(StockDeliverySerializer(found).data)


class ReturnList(generics.ListAPIView):
    """GET customer returns; POST one against a delivery (at the cost it left with)."""

    serializer_class = ReturnSerializer
    permission_classes = [IsAuthenticated, SHIP]

    def get_queryset(self) -> QuerySet[CustomerReturn]:
        return sel.return_list(actor=_actor(self.request)).prefetch_related("lines")

    @extend_schema(
        request=CustomerReturnInput,
        responses={201: ReturnSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        data = parse(CustomerReturnInput, request.data)
        delivery = _http404_to_notfound(
            lambda: sel.delivery_get(actor=_actor(request), pk=data["delivery"]), _("No such delivery.")
        )
        ret = svc.return_create(
            actor=_actor(request),
            delivery=delivery,
            lines=[(ln["delivery_line"], ln["quantity"]) for ln in data["lines"]],
            reason=data["reason"],
            warehouse=data.get("warehouse"),
            idempotency_key=_key(request),
        )
        saved = sel.return_list(actor=_actor(request)).prefetch_related("lines").get(pk=ret.pk)
        return Response(ReturnSerializer(saved).data, status=status.HTTP_201_CREATED)


class ReturnDetail(APIView):
    permission_classes = [IsAuthenticated, SHIP]

    @extend_schema(responses={200: ReturnSerializer})
    def get(self, request: Request, pk: int) -> Response:
        found = _http404_to_notfound(
            lambda: sel.return_get(actor=_actor(request), pk=pk), _("No such return.")
        )
        return Response(ReturnSerializer(found).data)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("state", str, description="open or closed."),
            OpenApiParameter("owner", int, description="Only this rep's samples."),
            OpenApiParameter("customer", int, description="Only this customer's samples."),
            OpenApiParameter("overdue", bool, description="Only open samples past their expected return."),
        ]
    )
)
class SampleList(generics.ListAPIView):
    """GET samples (a rep sees their own); POST to issue samples to a customer (a transfer to the sample
    location)."""

    serializer_class = SampleSerializer
    permission_classes = [IsAuthenticated, SAMPLE]

    def get_queryset(self) -> QuerySet[Sample]:
        f = parse_query(SampleQuery, self.request)
        return sel.sample_list(
            actor=_actor(self.request),
            state=f.get("state", ""),
            owner_id=f.get("owner"),
            customer_id=f.get("customer"),
            overdue=f.get("overdue", False),
        ).prefetch_related("lines__product")

    @extend_schema(
        request=SampleInput,
        responses={201: SampleSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        data = parse(SampleInput, request.data)
        user = _actor(request)
        customer = customers_visible(user).filter(pk=data["customer"]).first()
        if customer is None:
            raise NotFound(_("No such customer."))
        sample = svc.sample_issue(
            actor=user,
            customer=customer,
            warehouse=data.get("warehouse") or svc.default_warehouse(),
            lines=[(ln["product"], ln["quantity"]) for ln in data["lines"]],
            expected_return=data.get("expected_return"),
            note=data["note"],
            idempotency_key=_key(request),
        )
        return Response(SampleSerializer(self._get(request, sample.pk)).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _get(request: Request, pk: int) -> Sample:
        return _http404_to_notfound(
            lambda: sel.sample_get(actor=_actor(request), pk=pk), _("No such sample.")
        )


class SampleDetail(APIView):
    permission_classes = [IsAuthenticated, SAMPLE]

    @extend_schema(responses={200: SampleSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SampleSerializer(SampleList._get(request, pk)).data)


class SampleAction(APIView):
    """POST {"action": "return" | "consume", "line": id, "reason": ...} or {"action": "convert"} (a draft
    sales order of the open lines; answers with the order's id and number)."""

    permission_classes = [IsAuthenticated, SAMPLE]

    @extend_schema(request=SampleActionInput, responses={200: SampleSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(SampleActionInput, request.data)
        user = _actor(request)
        sample = SampleList._get(request, pk)
        if data["action"] == "convert":
            order = svc.sample_convert(actor=user, sample=sample)
            body = SampleSerializer(SampleList._get(request, pk)).data
            return Response({**body, "order": {"id": order.pk, "number": order.number}})
        line = SampleLine.objects.filter(pk=data.get("line") or 0, sample=sample).first()
        if line is None:
            raise serializers.ValidationError({"line": [_("Choose a line of this sample.")]})
        if data["action"] == "return":
            svc.sample_line_return(actor=user, line=line)
        else:
            svc.sample_line_consume(actor=user, line=line, reason=data["reason"])
        return Response(SampleSerializer(SampleList._get(request, pk)).data)
