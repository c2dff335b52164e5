"""REST API of the receivables area (/api/v1/sales/...): installments, plans, receipts with allocations,
reversal, customer credit, aging, forecast and statements. Same permissions and data scope as the pages."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, parse, parse_query
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Customer, customers_visible

from . import selectors_receivables as sel
from . import services_receivables as svc
from .models import Contract, Installment, Receipt, ReceiptAllocation

ID: dict[str, Any] = {"min_value": 1, "max_value": 2**31 - 1}
MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


def _customer(user: Any, pk: int) -> Customer:
    qs = Customer.objects.all() if svc.sees_all(user) else customers_visible(user)
    customer = qs.filter(pk=pk).first()
    if customer is None:
        raise Http404
    return customer


class InstallmentSerializer(serializers.ModelSerializer):
    contract_number = serializers.CharField(source="contract.number", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    open_amount = serializers.DecimalField(**MONEY, source="open", read_only=True)

    class Meta:
        model = Installment
        fields = [
            "id",
            "contract",
            "contract_number",
            "customer",
            "customer_name",
            "owner",
            "owner_name",
            "position",
            "due_date",
            "amount",
            "paid_amount",
            "open_amount",
            "currency",
            "note",
        ]


class InstallmentQuery(serializers.Serializer):
    owner = serializers.IntegerField(required=False, **ID)
    customer = serializers.IntegerField(required=False, **ID)
    due_month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    overdue = serializers.BooleanField(required=False, default=False)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("owner", int),
            OpenApiParameter("customer", int),
            OpenApiParameter("due_month", str, description="YYYY-MM"),
            OpenApiParameter("overdue", bool),
        ]
    )
)
class InstallmentList(generics.ListAPIView):
    """Open installments in the caller's data scope, oldest due first."""

    serializer_class = InstallmentSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    def get_queryset(self) -> QuerySet[Installment]:
        from datetime import date

        q = parse_query(InstallmentQuery, self.request)
        month = None
        if q.get("due_month"):
            y, m = q["due_month"].split("-")
            month = date(int(y), int(m), 1)
        return sel.open_installments(
            actor=self.request.user,
            owner_id=q.get("owner"),
            customer_id=q.get("customer"),
            due_month=month,
            overdue=q["overdue"],
        )


class PlanPartSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, **ID)
    due_date = serializers.DateField()
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))  # type: ignore[arg-type]
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class PlanSerializer(serializers.Serializer):
    installments = PlanPartSerializer(many=True, allow_empty=False, max_length=60)  # type: ignore[call-arg]


class PlanOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Installment
        fields = ["id", "position", "due_date", "amount", "paid_amount", "currency", "note"]


class ContractPlan(APIView):
    """GET the plan of a contract; PUT the whole plan (adds up to the contract total; paid ones kept)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    def _contract(self, request: Request, pk: int) -> Contract:
        qs = Contract.objects.all()
        if not svc.sees_all(request.user):
            from crm.kernel.scope import visible_to

            qs = visible_to(qs, request.user)
        contract = qs.filter(pk=pk).first()
        if contract is None:
            raise Http404
        return contract

    @extend_schema(responses={200: PlanOutSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        contract = self._contract(request, pk)
        return Response(PlanOutSerializer(sel.contract_plan(contract), many=True).data)

    @extend_schema(request=PlanSerializer, responses={200: PlanOutSerializer(many=True)})
    def put(self, request: Request, pk: int) -> Response:
        data = parse(PlanSerializer, request.data)
        contract = self._contract(request, pk)
        parts = [
            svc.PlanPart(due_date=p["due_date"], amount=p["amount"], note=p.get("note", ""), id=p.get("id"))
            for p in data["installments"]
        ]
        plan = svc.plan_set(actor=request.user, contract=contract, parts=parts)
        return Response(PlanOutSerializer(plan, many=True).data)


class AllocationSerializer(serializers.ModelSerializer):
    contract_number = serializers.CharField(source="contract.number", read_only=True)

    class Meta:
        model = ReceiptAllocation
        fields = ["id", "contract", "contract_number", "installment", "amount"]


class ReceiptSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "owner",
            "amount",
            "allocated_amount",
            "currency",
            "received_on",
            "method",
            "bank_reference",
            "note",
            "state",
            "reversed_at",
            "reversal_reason",
        ]


class ReceiptDetailSerializer(ReceiptSerializer):
    allocations = AllocationSerializer(many=True, read_only=True)

    class Meta(ReceiptSerializer.Meta):
        fields = [*ReceiptSerializer.Meta.fields, "allocations"]


class AllocationInSerializer(serializers.Serializer):
    installment = serializers.IntegerField(required=False, allow_null=True, **ID)
    contract = serializers.IntegerField(required=False, allow_null=True, **ID)
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))  # type: ignore[arg-type]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("installment") and not attrs.get("contract"):
            raise serializers.ValidationError("installment or contract")
        return attrs


class ReceiptCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(**ID)
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))  # type: ignore[arg-type]
    received_on = serializers.DateField()
    method = serializers.ChoiceField(choices=Receipt.Method.choices, default=Receipt.Method.BANK)
    bank_reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
    allocations = AllocationInSerializer(many=True, required=False, allow_null=True, max_length=200)  # type: ignore[call-arg]
    keep_credit = serializers.BooleanField(default=False)


class ReceiptQuery(serializers.Serializer):
    customer = serializers.IntegerField(required=False, **ID)
    state = serializers.ChoiceField(choices=Receipt.State.choices, required=False)


def _token(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    return "api:" + hashlib.sha256(f"{request.user.pk}:{key}".encode()).hexdigest()[:56]


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("customer", int), OpenApiParameter("state", str)]),
)
class ReceiptList(generics.ListCreateAPIView):
    """GET receipts in scope; POST records one with its allocation (oldest due first unless `allocations`
    are given). Send an Idempotency-Key: a retry returns the first receipt."""

    serializer_class = ReceiptSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    def get_queryset(self) -> QuerySet[Receipt]:
        q = parse_query(ReceiptQuery, self.request)
        qs = (
            sel.receipts_visible(self.request.user).select_related("customer").order_by("-received_on", "-id")
        )
        if q.get("customer"):
            qs = qs.filter(customer_id=q["customer"])
        if q.get("state"):
            qs = qs.filter(state=q["state"])
        return qs

    @extend_schema(request=ReceiptCreateSerializer, responses={201: ReceiptDetailSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = parse(ReceiptCreateSerializer, request.data)
        customer = _customer(request.user, data["customer"])
        allocations = None
        if data.get("allocations"):
            allocations = [
                svc.AllocationInput(
                    amount=a["amount"], installment_id=a.get("installment"), contract_id=a.get("contract")
                )
                for a in data["allocations"]
            ]
        receipt = svc.receipt_record(
            actor=request.user,
            customer=customer,
            amount=data["amount"],
            received_on=data["received_on"],
            method=data["method"],
            bank_reference=data["bank_reference"],
            note=data["note"],
            allocations=allocations,
            keep_credit=data["keep_credit"],
            client_token=_token(request),
        )
        return Response(ReceiptDetailSerializer(receipt).data, status=status.HTTP_201_CREATED)


class ReceiptDetail(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    @extend_schema(responses={200: ReceiptDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReceiptDetailSerializer(svc.receipt_get(actor=request.user, pk=pk)).data)


class ReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ReceiptReverse(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_reverse")]

    @extend_schema(request=ReverseSerializer, responses={200: ReceiptDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(ReverseSerializer, request.data)
        receipt = svc.receipt_get(actor=request.user, pk=pk)
        receipt = svc.receipt_reverse(actor=request.user, receipt=receipt, reason=data["reason"])
        return Response(ReceiptDetailSerializer(receipt).data)


class CreditApplySerializer(serializers.Serializer):
    allocations = AllocationInSerializer(many=True, required=False, allow_null=True, max_length=200)  # type: ignore[call-arg]


class CreditResultSerializer(serializers.Serializer):
    applied = serializers.DecimalField(**MONEY)
    credit = serializers.DecimalField(**MONEY)


class CreditApply(APIView):
    """POST: apply the customer's credit to open installments (oldest first, or `allocations`)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    @extend_schema(request=CreditApplySerializer, responses={200: CreditResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(CreditApplySerializer, request.data)
        customer = _customer(request.user, pk)
        allocations = None
        if data.get("allocations"):
            allocations = [
                svc.AllocationInput(
                    amount=a["amount"], installment_id=a.get("installment"), contract_id=a.get("contract")
                )
                for a in data["allocations"]
            ]
        applied = svc.credit_apply(actor=request.user, customer=customer, allocations=allocations)
        body = {"applied": applied, "credit": sel.customer_credit(customer.pk)}
        return Response(CreditResultSerializer(body).data)


class AsOfQuery(serializers.Serializer):
    as_of = serializers.DateField(required=False)


class AgingRowSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer__name = serializers.CharField()
    not_due = serializers.DecimalField(**MONEY)
    d0_30 = serializers.DecimalField(**MONEY)
    d31_60 = serializers.DecimalField(**MONEY)
    d61_90 = serializers.DecimalField(**MONEY)
    d90_plus = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class AgingTotalsSerializer(serializers.Serializer):
    not_due = serializers.DecimalField(**MONEY)
    d0_30 = serializers.DecimalField(**MONEY)
    d31_60 = serializers.DecimalField(**MONEY)
    d61_90 = serializers.DecimalField(**MONEY)
    d90_plus = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class AgingSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    rows = AgingRowSerializer(many=True)
    totals = AgingTotalsSerializer()


class Aging(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.receivables_reports")]

    @extend_schema(
        parameters=[OpenApiParameter("as_of", str, description="YYYY-MM-DD")],
        responses={200: AgingSerializer},
    )
    def get(self, request: Request) -> Response:
        q = parse_query(AsOfQuery, request)
        report = sel.aging(actor=request.user, as_of=q.get("as_of"))
        return Response(
            AgingSerializer({"as_of": report.as_of, "rows": report.rows, "totals": report.totals}).data
        )


class ForecastRowSerializer(serializers.Serializer):
    month = serializers.DateField()
    total = serializers.DecimalField(**MONEY)


class CollectionsForecastSerializer(serializers.Serializer):
    overdue = serializers.DecimalField(**MONEY)
    rows = ForecastRowSerializer(many=True)
    total = serializers.DecimalField(**MONEY)


class ForecastQuery(serializers.Serializer):
    months = serializers.IntegerField(required=False, min_value=1, max_value=36, default=12)


class Forecast(APIView):
    permission_classes = [IsAuthenticated, HasPerm("sales.receivables_reports")]

    @extend_schema(
        parameters=[OpenApiParameter("months", int)], responses={200: CollectionsForecastSerializer}
    )
    def get(self, request: Request) -> Response:
        q = parse_query(ForecastQuery, request)
        return Response(
            CollectionsForecastSerializer(sel.forecast(actor=request.user, months=q["months"])).data
        )


class StatementLineSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.CharField()
    ref = serializers.CharField()
    text = serializers.CharField()
    debit = serializers.DecimalField(**MONEY)
    credit = serializers.DecimalField(**MONEY)
    balance = serializers.DecimalField(**MONEY)


class StatementSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    opening = serializers.DecimalField(**MONEY)
    closing = serializers.DecimalField(**MONEY)
    debits = serializers.DecimalField(**MONEY)
    credits = serializers.DecimalField(**MONEY)
    credit = serializers.DecimalField(**MONEY, help_text="The customer's unallocated credit today.")
    lines = StatementLineSerializer(many=True)
    installments = PlanOutSerializer(many=True)


class PeriodQuery(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or tenant_today()
        start = attrs.get("start") or end.replace(month=1, day=1)
        if start > end:
            raise serializers.ValidationError({"start": ["start is after end"]})
        if end - start > timedelta(days=3660):
            raise serializers.ValidationError({"start": ["at most ten years"]})
        return {"start": start, "end": end}


class Statement(APIView):
    """The customer account statement between two dates (default: this year), with a running balance."""

    permission_classes = [IsAuthenticated, HasPerm("sales.receipt_record")]

    @extend_schema(
        parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
        responses={200: StatementSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        q = parse_query(PeriodQuery, request)
        customer = _customer(request.user, pk)
        data = sel.statement(actor=request.user, customer=customer, start=q["start"], end=q["end"])
        return Response(StatementSerializer(data).data)
