"""REST API of the money area (/api/v1/sales/): sales settings, invoicing requests, fapiao and red-letter
fapiao, targets and achievement. The same permissions and data scope as the pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.kernel.vat import VAT_RATES
from crm.platform.errors import NotFound
from crm.platform.permissions import data_scope
from crm.tenants.accounts.models import Team, User

from . import selectors_money as sel
from . import services_money as svc
from .models import Fapiao, Installment, InvoiceRequest, SalesSettings, Target

KIND_HELP = "special (专票), ordinary (普票) or digital (数电票)"


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# --- settings -----------------------------------------------------------------------------------------


class SettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = SalesSettings
        fields = list(svc.SETTINGS_FIELDS)


class SettingsUpdateSerializer(serializers.Serializer):
    target_basis = serializers.ChoiceField(choices=SalesSettings.TargetBasis.choices, required=False)
    reps_see_margin_percent = serializers.BooleanField(required=False)
    remind_days_before = serializers.IntegerField(min_value=0, max_value=365, required=False)
    remind_days_after = serializers.IntegerField(min_value=0, max_value=365, required=False)
    quote_valid_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    default_payment_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    quote_terms = Text(max_length=5000)
    contract_terms = Text(max_length=5000)


class SettingsDetail(APIView):
    """GET the workspace's sales settings; PATCH some of them (owner and admins)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.settings")]

    @extend_schema(responses={200: SettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(SettingsSerializer(sel.sales_settings()).data)

    @extend_schema(request=SettingsUpdateSerializer, responses={200: SettingsSerializer})
    def patch(self, request: Request) -> Response:
        data = parse(SettingsUpdateSerializer, request.data, partial=True)
        row = svc.settings_update(actor=_actor(request), **data)
        return Response(SettingsSerializer(row).data)


# --- invoicing requests -----------------------------------------------------------------------------------


class InvoiceRequestSerializer(serializers.ModelSerializer):
    contract_number = serializers.CharField(source="contract.number", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    requested_by_name = serializers.CharField(source="requested_by.name", read_only=True)

    class Meta:
        model = InvoiceRequest
        fields = [
            "id",
            "contract",
            "contract_number",
            "installment",
            "customer",
            "customer_name",
            "owner",
            "amount",
            "kind",
            "buyer_title",
            "buyer_tax_id",
            "note",
            "state",
            "requested_by",
            "requested_by_name",
            "created_at",
        ]


class InvoiceRequestQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=InvoiceRequest.State.choices, required=False)
    contract = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class InvoiceRequestCreateSerializer(serializers.Serializer):
    contract = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    installment = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)
    amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, required=False, allow_null=True, help_text="Default: the uninvoiced."
    )
    kind = serializers.CharField(max_length=10, default=Fapiao.Kind.SPECIAL, help_text=KIND_HELP)
    buyer_title = Text(max_length=200)
    buyer_tax_id = Text(max_length=30)
    note = Text(max_length=300)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=list(InvoiceRequest.State.values)),
            OpenApiParameter("contract", int),
        ]
    )
)
class InvoiceRequestList(generics.ListAPIView):
    """GET: invoicing requests (finance all, others those of their contracts); POST: request a fapiao."""

    serializer_class = InvoiceRequestSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.invoice_request")]

    def get_queryset(self) -> QuerySet[InvoiceRequest]:
        q = parse_query(InvoiceRequestQuery, self.request)
        return sel.invoice_requests(
            actor=_actor(self.request), state=q.get("state", ""), contract_id=q.get("contract")
        )

    @extend_schema(request=InvoiceRequestCreateSerializer, responses={201: InvoiceRequestSerializer})
    def post(self, request: Request) -> Response:
        data = parse(InvoiceRequestCreateSerializer, request.data)
        actor = _actor(request)
        contract = sel.contract_get(actor=actor, pk=data["contract"])
        installment = None
        if data.get("installment"):
            installment = Installment.objects.filter(pk=data["installment"], contract=contract).first()
            if installment is None:
                raise NotFound("installment")
        found = svc.invoice_request_create(
            actor=actor,
            contract=contract,
            installment=installment,
            amount=data.get("amount"),
            kind=data["kind"],
            buyer_title=data.get("buyer_title", ""),
            buyer_tax_id=data.get("buyer_tax_id", ""),
            note=data.get("note", ""),
        )
        return Response(InvoiceRequestSerializer(found).data, status=status.HTTP_201_CREATED)


# --- fapiao ---------------------------------------------------------------------------------------------


class FapiaoSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)
    contract_number = serializers.CharField(source="contract.number", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    is_red_letter = serializers.SerializerMethodField()

    class Meta:
        model = Fapiao
        fields = [
            "id",
            "number",
            "contract",
            "contract_number",
            "request",
            "customer",
            "customer_name",
            "kind",
            "issued_on",
            "amount_incl",
            "amount_excl",
            "amount_tax",
            "vat_rate",
            "currency",
            "buyer_title",
            "buyer_tax_id",
            "red_of",
            "is_red_letter",
            "reason",
            "provider",
            "provider_reference",
            "created_at",
        ]

    def get_is_red_letter(self, obj: Fapiao) -> bool:
        return obj.red_of_id is not None


class FapiaoQuery(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Fapiao.Kind.choices, required=False)
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM")
    customer = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    contract = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    red = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = Text(max_length=100)


RATES = [str(r.rate) for r in VAT_RATES]


class FapiaoCreateSerializer(serializers.Serializer):
    contract = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    request = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)
    number = Text(max_length=30, help_text="Required unless issued through the provider.")
    issued_on = serializers.DateField(required=False, allow_null=True)
    kind = serializers.CharField(max_length=10, default=Fapiao.Kind.SPECIAL, help_text=KIND_HELP)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.13"))
    amount_incl = serializers.DecimalField(max_digits=16, decimal_places=2)
    amount_excl = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    amount_tax = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    buyer_title = Text(max_length=200)
    buyer_tax_id = Text(max_length=30)
    through_provider = serializers.BooleanField(default=False)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(Fapiao.Kind.values)),
            OpenApiParameter("month", str, description="YYYY-MM (month of issue)"),
            OpenApiParameter("customer", int),
            OpenApiParameter("contract", int),
            OpenApiParameter("red", bool, description="true: red-letter only; false: issued only"),
            OpenApiParameter("q", str, description="Number starts with, or buyer contains."),
        ]
    )
)
class FapiaoList(generics.ListAPIView):
    """GET: fapiao (finance all, reps those of their contracts); POST: record an issued fapiao (finance)."""

    serializer_class = FapiaoSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.invoice_request", write="sales.fapiao_record")]

    def get_queryset(self) -> QuerySet[Fapiao]:
        q = parse_query(FapiaoQuery, self.request)
        month = sel.parse_month(q["month"]) if q.get("month") else None
        return sel.fapiao_list(
            actor=_actor(self.request),
            kind=q.get("kind", ""),
            month=month,
            customer_id=q.get("customer"),
            contract_id=q.get("contract"),
            red=q.get("red"),
            q=q.get("q", ""),
        )

    @extend_schema(request=FapiaoCreateSerializer, responses={201: FapiaoSerializer})
    def post(self, request: Request) -> Response:
        data = parse(FapiaoCreateSerializer, request.data)
        actor = _actor(request)
        contract = sel.contract_get(actor=actor, pk=data["contract"])
        invoice_request = None
        if data.get("request"):
            invoice_request = InvoiceRequest.objects.filter(pk=data["request"], contract=contract).first()
            if invoice_request is None:
                raise NotFound("request")
        common: dict[str, Any] = {
            "actor": actor,
            "contract": contract,
            "request": invoice_request,
            "amount_incl": data["amount_incl"],
            "vat_rate": data["vat_rate"],
            "kind": data["kind"],
            "buyer_title": data.get("buyer_title", ""),
            "buyer_tax_id": data.get("buyer_tax_id", ""),
        }
        if data["through_provider"]:
            fapiao = svc.fapiao_issue(**common)
        else:
            fapiao = svc.fapiao_record(
                **common,
                number=data.get("number", ""),
                issued_on=data.get("issued_on"),
                amount_excl=data.get("amount_excl"),
                amount_tax=data.get("amount_tax"),
            )
        return Response(FapiaoSerializer(fapiao).data, status=status.HTTP_201_CREATED)


class RedSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    number = Text(max_length=30, help_text="The red-letter fapiao's number (manual issuing).")
    issued_on = serializers.DateField(required=False, allow_null=True)


class FapiaoRed(APIView):
    """POST {reason, number, issued_on}: the red-letter fapiao reversing this one (once per fapiao)."""

    permission_classes = [IsAuthenticated, HasPerm("sales.fapiao_record")]

    @extend_schema(request=RedSerializer, responses={201: FapiaoSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(RedSerializer, request.data)
        actor = _actor(request)
        fapiao = sel.fapiao_get(actor=actor, pk=pk)
        red = svc.fapiao_red(
            actor=actor,
            fapiao=fapiao,
            reason=data["reason"],
            number=data.get("number", ""),
            issued_on=data.get("issued_on"),
        )
        return Response(FapiaoSerializer(red).data, status=status.HTTP_201_CREATED)


# --- targets and achievement ------------------------------------------------------------------------------


class TargetSerializer(serializers.ModelSerializer):
    user_name = serializers.CharField(source="user.name", default=None, read_only=True, allow_null=True)
    team_name = serializers.CharField(source="team.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Target
        fields = ["id", "month", "user", "user_name", "team", "team_name", "amount", "currency"]


class TargetQuery(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM")


class TargetSetSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", help_text="YYYY-MM")
    user = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)
    team = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)
    amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, allow_null=True, help_text="null removes the target"
    )


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("month", str, description="YYYY-MM")]))
class TargetList(generics.ListAPIView):
    """GET: targets (of a month); POST {month, user | team, amount}: set one (null amount removes it)."""

    serializer_class = TargetSerializer
    permission_classes = [IsAuthenticated, HasPerm("sales.targets_manage")]

    def get_queryset(self) -> QuerySet[Target]:
        q = parse_query(TargetQuery, self.request)
        actor = _actor(self.request)
        qs = Target.objects.select_related("user", "team").order_by("-month", "id")
        if q.get("month"):
            qs = qs.filter(month=sel.parse_month(q["month"]))
        if data_scope(actor) != "all":
            user_ids = list(sel.reps_for(actor).values_list("pk", flat=True))
            team_ids = [t.pk for t in sel.teams_for(actor)]
            qs = qs.filter(Q(user_id__in=user_ids) | Q(team_id__in=team_ids))
        return qs

    @extend_schema(request=TargetSetSerializer, responses={200: TargetSerializer, 204: None})
    def post(self, request: Request) -> Response:
        data = parse(TargetSetSerializer, request.data)
        user = team = None
        if data.get("user"):
            user = User.objects.filter(pk=data["user"], is_active=True).first()
            if user is None:
                raise NotFound("user")
        if data.get("team"):
            team = Team.objects.filter(pk=data["team"]).first()
            if team is None:
                raise NotFound("team")
        target = svc.target_set(
            actor=_actor(request),
            month=sel.parse_month(data["month"]),
            amount=data["amount"],
            user=user,
            team=team,
        )
        if target is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TargetSerializer(target).data)


class AchievementRowSerializer(serializers.Serializer):
    month = serializers.DateField()
    target = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    achieved = serializers.DecimalField(max_digits=16, decimal_places=2)
    percent = serializers.IntegerField(allow_null=True)


class AchievementSerializer(serializers.Serializer):
    basis = serializers.CharField(help_text="contracts or receipts (the workspace's setting)")
    user = serializers.IntegerField(allow_null=True)
    team = serializers.IntegerField(allow_null=True)
    rows = AchievementRowSerializer(many=True)


class AchievementQuery(serializers.Serializer):
    month = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM (last month)"
    )
    user = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    team = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    months = serializers.IntegerField(min_value=1, max_value=24, default=12)


class Achievement(APIView):
    """GET ?month=&user=|team=&months=12: target vs achieved per month of a rep (default: oneself) or a team
    in the caller's scope."""

    permission_classes = [IsAuthenticated, HasPerm("sales.opportunity_edit")]

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM, the last month (default: this month)"),
            OpenApiParameter("user", int),
            OpenApiParameter("team", int),
            OpenApiParameter("months", int, description="1-24, default 12"),
        ],
        responses={200: AchievementSerializer},
    )
    def get(self, request: Request) -> Response:
        q = parse_query(AchievementQuery, request)
        actor = _actor(request)
        month = sel.parse_month(q.get("month"))
        user: Any = actor
        team = None
        if q.get("team"):
            team = next((t for t in sel.teams_for(actor) if t.pk == q["team"]), None)
            if team is None:
                raise NotFound("team")
        elif q.get("user") and q["user"] != actor.pk:
            user = sel.reps_for(actor).filter(pk=q["user"]).first()
            if user is None:
                raise NotFound("user")
        data = sel.achievement(actor=actor, month=month, user=user, team=team, months=q["months"])
        body = {
            "basis": data["basis"],
            "user": None if team else user.pk,
            "team": team.pk if team else None,
            "rows": data["rows"],
        }
        return Response(AchievementSerializer(body).data)
