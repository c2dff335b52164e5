"""REST API of the pipeline (/api/v1/sales/): opportunities (list with the list page's filters, create,
detail, update, move, reopen), stages, forecast. Same permissions and data scope as the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.modules.core.public import Contact, customers_visible
from crm.platform.errors import NotFound, ServiceError
from crm.tenants.accounts.models import User

from . import selectors_pipeline as sel
from . import services_pipeline as svc
from .models import Opportunity, OpportunityProduct, OpportunityStageLog, Stage

EDIT = "sales.opportunity_edit"


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class StageSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="open, won or lost.")

    class Meta:
        model = Stage
        fields = ["id", "name", "position", "probability", "kind", "is_active"]


class OpportunitySerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    weighted_amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)
    status = serializers.CharField(read_only=True, help_text="open, won or lost.")

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "customer",
            "customer_name",
            "contact",
            "owner",
            "owner_name",
            "stage",
            "stage_name",
            "status",
            "amount",
            "currency",
            "probability",
            "weighted_amount",
            "expected_close",
            "source",
            "competitor",
            "lost_reason",
            "notes",
            "stage_changed_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]


class ProductRowSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = OpportunityProduct
        fields = ["id", "product", "product_name", "quantity", "unit_price_incl"]


class StageLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = OpportunityStageLog
        fields = ["id", "from_stage", "to_stage", "actor", "created_at"]


class OpportunityDetailSerializer(OpportunitySerializer):
    products = ProductRowSerializer(many=True, read_only=True)
    stage_log = StageLogSerializer(many=True, read_only=True)

    class Meta(OpportunitySerializer.Meta):
        fields = [*OpportunitySerializer.Meta.fields, "products", "stage_log"]


class ListQuery(serializers.Serializer):
    stage = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    owner = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    status = Text(max_length=10, help_text="open, won or lost.")

    def validate_status(self, value: str) -> str:
        if value and value not in Opportunity.Status.values:
            raise serializers.ValidationError(_("Choose open, won or lost."))
        return value

    close_month = serializers.RegexField(r"^\d{4}-\d{2}$", required=False)
    q = Text(max_length=100)


class ProductInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=2**62)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4)
    unit_price_incl = serializers.DecimalField(max_digits=14, decimal_places=4)


class OpportunityInput(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**62)
    name = Text(max_length=200, required=True, allow_blank=False)
    contact = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    expected_close = serializers.DateField(required=False, allow_null=True)
    stage = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    source = Text(max_length=60)  # type: ignore[assignment]
    competitor = Text(max_length=200)
    notes = Text(max_length=5000)
    lost_reason = Text(max_length=300)
    owner = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    products = ProductInputSerializer(many=True, required=False)


class OpportunityUpdate(serializers.Serializer):
    name = Text(max_length=200, allow_blank=False)
    contact = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    expected_close = serializers.DateField(required=False, allow_null=True)
    probability = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    source = Text(max_length=60)  # type: ignore[assignment]
    competitor = Text(max_length=200)
    notes = Text(max_length=5000)
    owner = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    products = ProductInputSerializer(many=True, required=False)


class OpportunityMoveInput(serializers.Serializer):
    stage = serializers.IntegerField(min_value=1, max_value=2**62)
    lost_reason = Text(max_length=300)


class ReopenInput(serializers.Serializer):
    stage = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)


def _products(rows: list[dict[str, Any]] | None) -> list[svc.ProductInput] | None:
    if rows is None:
        return None
    return [svc.ProductInput(r["product"], r["quantity"], r["unit_price_incl"]) for r in rows]


def _stage(pk: int | None) -> Stage | None:
    if pk is None:
        return None
    stage = Stage.objects.filter(pk=pk).first()
    if stage is None:
        raise ServiceError(_("No such stage."), field="stage")
    return stage


def _contact(pk: int | None) -> Contact | None:
    if pk is None:
        return None
    contact = Contact.objects.filter(pk=pk).first()
    if contact is None:
        raise ServiceError(_("No such contact."), field="contact")
    return contact


def _owner(pk: int | None) -> User | None:
    if pk is None:
        return None
    owner = User.objects.filter(pk=pk).first()
    if owner is None:
        raise ServiceError(_("No such user."), field="owner")
    return owner


def _get(request: Request, pk: int) -> Opportunity:
    try:
        return sel.opportunity_get(_actor(request), pk)
    except Http404:
        raise NotFound(_("No such opportunity.")) from None


def _detail(request: Request, pk: int) -> dict[str, Any]:
    opp = (
        sel.opportunities_visible(_actor(request))
        .select_related("customer", "owner", "stage")
        .prefetch_related("products__product", "stage_log")
        .filter(pk=pk)
        .first()
    )
    if opp is None:
        raise NotFound(_("No such opportunity."))
    return dict(OpportunityDetailSerializer(opp).data)


LIST_PARAMS = [
    OpenApiParameter("stage", int, description="Stage id."),
    OpenApiParameter("owner", int, description="Owner (user id)."),
    OpenApiParameter("customer", int, description="Customer id."),
    OpenApiParameter("status", str, enum=list(Opportunity.Status.values)),
    OpenApiParameter("close_month", str, description="Expected close in this month (YYYY-MM)."),
    OpenApiParameter("q", str, description="Name or customer name contains."),
]


@extend_schema_view(
    get=extend_schema(parameters=LIST_PARAMS),
    post=extend_schema(request=OpportunityInput, responses={201: OpportunityDetailSerializer}),
)
class OpportunityList(generics.ListAPIView):
    """GET: opportunities in the data scope (filters as the list page), newest change first. POST: create."""

    serializer_class = OpportunitySerializer
    permission_classes = [IsAuthenticated, HasPerm(EDIT)]

    def get_queryset(self) -> QuerySet[Opportunity]:
        q = parse_query(ListQuery, self.request)
        f = sel.Filters(
            stage=q.get("stage"),
            owner=q.get("owner"),
            customer=q.get("customer"),
            status=q.get("status", ""),
            close_month=q.get("close_month", ""),
            q=q.get("q", ""),
        )
        return sel.opportunity_list(_actor(self.request), f).order_by("-updated_at", "-id")

    def post(self, request: Request) -> Response:
        data = parse(OpportunityInput, request.data)
        actor = _actor(request)
        customer = customers_visible(actor).filter(pk=data["customer"]).first()
        if customer is None:
            raise ServiceError(_("No such customer."), field="customer")
        opp = svc.opportunity_create(
            actor=actor,
            customer=customer,
            name=data["name"],
            amount=data.get("amount"),
            expected_close=data.get("expected_close"),
            stage=_stage(data.get("stage")),
            contact=_contact(data.get("contact")),
            probability=data.get("probability"),
            source=data.get("source", ""),
            competitor=data.get("competitor", ""),
            notes=data.get("notes", ""),
            lost_reason=data.get("lost_reason", ""),
            owner=_owner(data.get("owner")),
            products=_products(data.get("products")),
        )
        return Response(_detail(request, opp.pk), status=status.HTTP_201_CREATED)


class OpportunityDetail(APIView):
    """GET: one opportunity with products and stage history. PATCH: change fields (not the stage)."""

    permission_classes = [IsAuthenticated, HasPerm(EDIT)]

    @extend_schema(responses={200: OpportunityDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_detail(request, pk))

    @extend_schema(request=OpportunityUpdate, responses={200: OpportunityDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        opp = _get(request, pk)
        data = parse(OpportunityUpdate, request.data, partial=True)
        products = _products(data.pop("products", None))
        if "contact" in data:
            data["contact"] = _contact(data["contact"])
        if "owner" in data:
            data["owner"] = _owner(data["owner"])
        svc.opportunity_update(actor=_actor(request), opportunity=opp, products=products, **data)
        return Response(_detail(request, pk))


class OpportunityMove(APIView):
    """POST {stage, lost_reason}: move to a stage (lost needs a reason)."""

    permission_classes = [IsAuthenticated, HasPerm(EDIT)]

    @extend_schema(request=OpportunityMoveInput, responses={200: OpportunityDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        opp = _get(request, pk)
        data = parse(OpportunityMoveInput, request.data)
        stage = _stage(data["stage"])
        assert stage is not None
        svc.opportunity_move(
            actor=_actor(request), opportunity=opp, stage=stage, lost_reason=data.get("lost_reason", "")
        )
        return Response(_detail(request, pk))


class OpportunityReopen(APIView):
    """POST {stage?}: a lost opportunity is open again."""

    permission_classes = [IsAuthenticated, HasPerm(EDIT)]

    @extend_schema(request=ReopenInput, responses={200: OpportunityDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        opp = _get(request, pk)
        data = parse(ReopenInput, request.data)
        svc.opportunity_reopen(actor=_actor(request), opportunity=opp, stage=_stage(data.get("stage")))
        return Response(_detail(request, pk))


class StageList(generics.ListAPIView):
    """The workspace's stages in board order (the default pipeline is created on first use)."""

    serializer_class = StageSerializer
    permission_classes = [IsAuthenticated, HasPerm(EDIT)]

    def get_queryset(self) -> QuerySet[Stage]:
        if not getattr(self, "swagger_fake_view", False):  # schema generation reads the model only
            svc.stages_ensure()
        return Stage.objects.order_by("position", "id")


class PeriodQuery(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": [_("The end is before the start.")]})
        return attrs


class MonthRow(serializers.Serializer):
    month = serializers.DateField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    weighted = serializers.DecimalField(max_digits=18, decimal_places=2)


class RepRow(serializers.Serializer):
    owner_id = serializers.IntegerField()
    name = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    weighted = serializers.DecimalField(max_digits=18, decimal_places=2)


class ConversionRow(serializers.Serializer):
    stage = serializers.IntegerField()
    stage_name = serializers.CharField()
    count = serializers.IntegerField()
    percent = serializers.FloatField()


class PipelineForecastSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    by_month = MonthRow(many=True)
    by_rep = RepRow(many=True)
    weighted_total = serializers.DecimalField(max_digits=18, decimal_places=2)
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    cycle_days = serializers.FloatField(allow_null=True)
    conversion = ConversionRow(many=True)


class Forecast(APIView):
    """GET ?start=&end=: weighted forecast by month and rep (open ones), win rate and average cycle of those
    closed in the period, stage conversion of those created in it (data scope applies)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.pipeline_reports")]

    @extend_schema(
        parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
        responses={200: PipelineForecastSerializer},
    )
    def get(self, request: Request) -> Response:
        q = parse_query(PeriodQuery, request)
        period = sel.default_period()
        period = sel.Period(start=q.get("start") or period.start, end=q.get("end") or period.end)
        if period.start > period.end:
            raise ServiceError(_("The end is before the start."), field="end")
        r = sel.pipeline_reports(_actor(request), period)
        body = {
            "start": period.start,
            "end": period.end,
            "by_month": r["by_month"],
            "by_rep": r["by_rep"],
            "weighted_total": r["weighted_total"],
            "won": r["won"],
            "lost": r["lost"],
            "win_rate": r["win_rate"],
            "cycle_days": r["cycle_days"],
            "conversion": [
                {
                    "stage": c["stage"].pk,
                    "stage_name": c["stage"].name,
                    "count": c["count"],
                    "percent": c["percent"],
                }
                for c in r["conversion"]
            ],
        }
        return Response(PipelineForecastSerializer(body).data)
