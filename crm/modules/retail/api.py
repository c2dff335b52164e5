"""REST API of the retail module (/api/v1/retail/). The lookup is the only way a clerk reaches a member;
the member list and export are for managers, admins and owners."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, Text, parse, parse_query
from crm.kernel.exports import FORMATS, XLSX, export_response
from crm.modules.messaging.public import (
    CONTEXT_NAMES,
    CareSettings,
    Channel,
    EventKind,
    MessageTemplate,
    care_settings_get,
    care_settings_update,
    template_get,
    template_update,
    templates_ensure,
)
from crm.platform.errors import NotFound
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import Member, PointsEntry, Sale, Store


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def remember(request: Any, member: Member) -> None:
    """Remember in the session that this user found `member` by exact lookup (clerks may then open it)."""
    ids = list(request.session.get(selectors.SESSION_KEY, []))
    if member.pk not in ids:
        ids = [*ids, member.pk][-20:]  # the last few customers at the counter, not a growing list
        request.session[selectors.SESSION_KEY] = ids


class MemberListSerializer(serializers.ModelSerializer):
    tier_name = serializers.CharField(source="tier.name", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Member
        fields = ["id", "name", "member_no", "phone", "tier", "tier_name", "points_balance", "total_spend"]


class SaleSerializer(serializers.ModelSerializer):
    store_name = serializers.CharField(source="store.name", read_only=True)

    class Meta:
        model = Sale
        fields = ["id", "created_at", "store", "store_name", "amount", "currency", "points", "voided_at"]


class PointsEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PointsEntry
        fields = ["id", "created_at", "kind", "points", "sale", "expires_at"]


def card_data(member: Member) -> dict[str, Any]:
    """What the counter sees of one member: tier, balance, validity, recent consumption."""
    return {
        "id": member.pk,
        "name": member.name,
        "member_no": member.member_no,
        "tier": member.tier.name if member.tier else None,
        "discount_percent": str(member.tier.discount_percent) if member.tier else "0",
        "points_balance": member.points_balance,
        "total_spend": str(member.total_spend),
        "currency": member.currency,
        "valid_until": member.valid_until,
        "recent_sales": SaleSerializer(selectors.member_recent_sales(member), many=True).data,
        "recent_points": PointsEntrySerializer(selectors.member_recent_points(member), many=True).data,
    }


# --- OpenAPI documentation of the hand-built answers (the views build these dicts; see card_data) -------


class MemberCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    member_no = serializers.CharField()
    tier = serializers.CharField(allow_null=True)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    points_balance = serializers.IntegerField()
    total_spend = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    recent_sales = SaleSerializer(many=True)
    recent_points = PointsEntrySerializer(many=True)


class SaleResultSerializer(serializers.Serializer):
    sale = SaleSerializer()
    points = serializers.IntegerField()
    points_balance = serializers.IntegerField()
    tier = serializers.CharField(allow_null=True)
    tier_change = serializers.CharField(allow_null=True, help_text="Why the tier changed, if it did.")


class RedeemResultSerializer(serializers.Serializer):
    entry = PointsEntrySerializer()
    points_balance = serializers.IntegerField()


class _ResultRowSerializer(serializers.Serializer):
    total = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    count = serializers.IntegerField()


class StoreRowSerializer(_ResultRowSerializer):
    store__name = serializers.CharField(allow_null=True)


class ClerkRowSerializer(_ResultRowSerializer):
    clerk__name = serializers.CharField(allow_null=True)


class DayRowSerializer(_ResultRowSerializer):
    day = serializers.DateField()


class TierRowSerializer(_ResultRowSerializer):
    tier__name = serializers.CharField(
        allow_null=True, help_text="The member's tier when the sale was recorded (not the tier today)."
    )


class ResultsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    by_store = StoreRowSerializer(many=True)
    by_clerk = ClerkRowSerializer(many=True)
    by_day = DayRowSerializer(many=True)
    by_tier = TierRowSerializer(many=True)
    new_members = serializers.IntegerField()
    active_members = serializers.IntegerField()
    repeat_rate = serializers.FloatField(help_text="Percent of active members who bought twice or more.")


class ExpiringMembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member_no = serializers.CharField()
    name = serializers.CharField()
    valid_until = serializers.DateField()


class ExpiringPointsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member_no = serializers.CharField()
    points = serializers.IntegerField()


class ExpiringSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    memberships = ExpiringMembershipSerializer(many=True)
    points = ExpiringPointsSerializer(many=True)


DAYS_PARAM = OpenApiParameter("days", int, description="Window in days (1-366, default 30).")


class LookupSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, allow_blank=True)
    member_no = serializers.CharField(max_length=40, allow_blank=True)


class Lookup(APIView):
    """POST {name, member_no}: the member card on an exact match of both, else 404 (same answer for any
    kind of miss)."""

    permission_classes = [IsAuthenticated, HasPerm("retail.lookup")]

    @extend_schema(request=LookupSerializer, responses={200: MemberCardSerializer})
    def post(self, request: Request) -> Response:
        data = parse(LookupSerializer, request.data)
        member = services.member_lookup(actor=_actor(request), **data)
        if member is None:
            raise NotFound(_("No member matches this name and number."))
        remember(request, member)
        return Response(card_data(member))


class MemberQuery(serializers.Serializer):
    q = Text(max_length=100)


class MemberExportQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=FORMATS, required=False, default="csv")


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("q", str, description="Search text.")]))
class MemberList(generics.ListAPIView):
    serializer_class = MemberListSerializer
    permission_classes = [IsAuthenticated, HasPerm("retail.manage")]

    def get_queryset(self) -> QuerySet[Member]:
        q = parse_query(MemberQuery, self.request).get("q", "")
        return selectors.member_list(actor=_actor(self.request), q=q)


class MemberExport(APIView):
    """GET ?type=csv|xlsx: every member (managers)."""

    permission_classes = [IsAuthenticated, HasPerm("retail.manage")]

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=list(FORMATS), default="csv", description="File format."),
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY},
    )
    def get(self, request: Request) -> HttpResponseBase:
        fmt = parse_query(MemberExportQuery, request)["type"]
        return export_members(selectors.member_list(actor=_actor(request)), fmt=fmt)


def export_members(members: QuerySet[Member], *, fmt: str = "csv") -> HttpResponseBase:
    """The member list as a download (the kernel's export helper: CSV with BOM or .xlsx)."""
    columns = [_("Member number"), _("Name"), _("Phone"), _("Tier"), _("Points"), _("Total spend")]
    rows = (
        [m.member_no, m.name, m.phone, m.tier.name if m.tier else "", m.points_balance, m.total_spend]
        for m in members.select_related("tier").iterator(chunk_size=2000)
    )
    return export_response(rows=rows, columns=columns, filename="members", fmt=fmt)


class MemberDetail(APIView):
    """A member card: managers any member; clerks only members they looked up in this session."""

    permission_classes = [IsAuthenticated, HasPerm("retail.lookup")]

    @extend_schema(responses={200: MemberCardSerializer})
    def get(self, request: Request, pk: int) -> Response:
        looked_up = request.session.get(selectors.SESSION_KEY, [])
        member = selectors.member_for_counter(actor=_actor(request), member_id=pk, looked_up=looked_up)
        return Response(card_data(member))


class LineSerializer(serializers.Serializer):
    product = serializers.IntegerField(required=False, allow_null=True)
    quantity = serializers.DecimalField(max_digits=10, decimal_places=2)
    description = serializers.CharField(max_length=200, required=False, default="")
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


class SaleCreateSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.all())
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    lines = LineSerializer(many=True, required=False)
    note = serializers.CharField(max_length=200, required=False, default="")


def _counter_member(request: Request, member_id: int) -> Member:
    looked_up = request.session.get(selectors.SESSION_KEY, [])
    return selectors.member_for_counter(actor=_actor(request), member_id=member_id, looked_up=looked_up)


class SaleCreate(APIView):
    """POST {member, store, amount | lines[]}: record a purchase for a member found by lookup."""

    permission_classes = [IsAuthenticated, HasPerm("retail.lookup")]

    @extend_schema(request=SaleCreateSerializer, responses={201: SaleResultSerializer})
    def post(self, request: Request) -> Response:
        data = parse(SaleCreateSerializer, request.data)
        member = _counter_member(request, data["member"])
        lines = [
            services.LineInput(
                product_id=ln.get("product"),
                quantity=ln["quantity"],
                description=ln.get("description", ""),
                unit_price=ln.get("unit_price"),
            )
            for ln in data.get("lines") or []
        ]
        result = services.sale_record(
            actor=_actor(request),
            member=member,
            store=data["store"],
            amount=data.get("amount"),
            lines=lines or None,
            note=data["note"],
        )
        body = {
            "sale": SaleSerializer(result.sale).data,
            "points": result.points,
            "points_balance": result.member.points_balance,
            "tier": result.member.tier.name if result.member.tier else None,
            "tier_change": result.tier_change.reason if result.tier_change else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class SaleVoid(APIView):
    permission_classes = [IsAuthenticated, HasPerm("retail.lookup")]  # the service refuses non-managers (403)

    @extend_schema(request=VoidSerializer, responses={200: SaleSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(VoidSerializer, request.data)
        sale = services.sale_get_for_void(actor=_actor(request), sale_id=pk)
        sale = services.sale_void(actor=_actor(request), sale=sale, reason=data["reason"])
        return Response(SaleSerializer(sale).data)


class RedeemSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    confirm = serializers.BooleanField(default=False)
    note = serializers.CharField(max_length=200, required=False, default="")


class Redeem(APIView):
    """POST {points, confirm: true}: without confirm the answer is 400 confirmation_required."""

    permission_classes = [IsAuthenticated, HasPerm("retail.lookup")]

    @extend_schema(request=RedeemSerializer, responses={200: RedeemResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(RedeemSerializer, request.data)
        member = _counter_member(request, pk)
        entry = services.points_redeem(actor=_actor(request), member=member, **data)
        return Response({"entry": PointsEntrySerializer(entry).data, "points_balance": member.points_balance})


class RenewResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = serializers.IntegerField()
    previous_valid_until = serializers.DateField(allow_null=True)
    valid_until = serializers.DateField()
    months = serializers.IntegerField()
    renewed_by = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    tier = serializers.CharField(allow_null=True)
    tier_change = serializers.CharField(allow_null=True, help_text="Why the tier went down, if it did.")


class Renew(APIView):
    """POST (no body): extend the membership by the tier's or the default validity; managers only. May
    downgrade the tier when the tenant's points rule says so; the answer says why."""

    permission_classes = [IsAuthenticated, HasPerm("retail.manage")]

    @extend_schema(request=None, responses={201: RenewResponseSerializer})
    def post(self, request: Request, pk: int) -> Response:
        member = _counter_member(request, pk)
        result = services.member_renew(actor=_actor(request), member=member)
        renewal = result.renewal
        body = RenewResponseSerializer(
            {
                "id": renewal.pk,
                "member": member.pk,
                "previous_valid_until": renewal.previous_valid_until,
                "valid_until": renewal.valid_until,
                "months": renewal.months,
                "renewed_by": renewal.renewed_by_id,
                "created_at": renewal.created_at,
                "tier": result.member.tier.name if result.member.tier else None,
                "tier_change": result.tier_change.reason if result.tier_change else None,
            }
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class DaysQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, default=30)


def _days(request: Request) -> int:
    """The window of ?days=, brought into 1-366 (a non-number is a 400)."""
    return max(1, min(366, int(parse_query(DaysQuery, request)["days"])))


class Results(APIView):
    """GET ?days=30: sales by store, clerk, day and tier; new/active members; repeat-purchase rate."""

    permission_classes = [IsAuthenticated, HasPerm("retail.manage")]

    @extend_schema(parameters=[DAYS_PARAM], responses={200: ResultsSerializer})
    def get(self, request: Request) -> Response:
        data = selectors.results(actor=_actor(request), days=_days(request))
        for key in ("by_store", "by_clerk", "by_day", "by_tier"):
            data[key] = [{**row, "total": str(row["total"])} for row in data[key]]
        return Response(data)


class Expiring(APIView):
    """GET ?days=30: memberships and points lapsing in the next N days."""

    permission_classes = [IsAuthenticated, HasPerm("retail.manage")]

    @extend_schema(parameters=[DAYS_PARAM], responses={200: ExpiringSerializer})
    def get(self, request: Request) -> Response:
        actor, days = _actor(request), _days(request)
        memberships = selectors.memberships_expiring(actor=actor, within_days=days)[:500]
        points = selectors.points_expiring(actor=actor, within_days=days)[:500]
        return Response(
            {
                "days": days,
                "memberships": [
                    {"id": m.pk, "member_no": m.member_no, "name": m.name, "valid_until": m.valid_until}
                    for m in memberships
                ],
                "points": [
                    {"id": r["member"].pk, "member_no": r["member"].member_no, "points": r["points"]}
                    for r in points
                ],
            }
        )


# --- member care (关怀) templates and notice windows: the same services and permission as /retail/care/ ---

CARE_PERM = "retail.manage"  # the permission the care page is mounted with (urls.py)
CARE_PATH_PARAMS = [
    OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(EventKind.values), description="Event."),
    OpenApiParameter(
        "channel", str, OpenApiParameter.PATH, enum=list(Channel.values), description="Channel."
    ),
]


class CareTemplateSerializer(serializers.ModelSerializer):
    """One care message template: Django template syntax (sandboxed; placeholders in `placeholders`)."""

    placeholders = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = ["kind", "channel", "subject", "body", "is_active", "placeholders", "updated_at"]

    def get_placeholders(self, obj: MessageTemplate) -> list[str]:
        return list(CONTEXT_NAMES)


class CareTemplateUpdateSerializer(serializers.Serializer):
    subject = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Email only (required there)."
    )
    body = serializers.CharField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="Whether this message is sent at all.")


class CareTemplateList(APIView):
    """GET: every (event, channel) template of the tenant (missing ones are created from the defaults)."""

    permission_classes = [IsAuthenticated, HasPerm(CARE_PERM)]

    @extend_schema(responses={200: CareTemplateSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(CareTemplateSerializer(templates_ensure(), many=True).data)


class CareTemplateDetail(APIView):
    """GET one template; PUT/PATCH {subject, body, is_active} changes it with the care page's validation (a
    template syntax error or a forbidden tag answers 400 with the field)."""

    permission_classes = [IsAuthenticated, HasPerm(CARE_PERM)]

    @extend_schema(parameters=CARE_PATH_PARAMS, responses={200: CareTemplateSerializer})
    def get(self, request: Request, kind: str, channel: str) -> Response:
        return Response(CareTemplateSerializer(template_get(kind=kind, channel=channel)).data)

    @extend_schema(
        parameters=CARE_PATH_PARAMS,
        request=CareTemplateUpdateSerializer,
        responses={200: CareTemplateSerializer},
    )
    def put(self, request: Request, kind: str, channel: str) -> Response:
        return self._update(request, kind, channel)

    @extend_schema(
        parameters=CARE_PATH_PARAMS,
        request=CareTemplateUpdateSerializer,
        responses={200: CareTemplateSerializer},
    )
    def patch(self, request: Request, kind: str, channel: str) -> Response:
        return self._update(request, kind, channel)

    def _update(self, request: Request, kind: str, channel: str) -> Response:
        data = parse(CareTemplateUpdateSerializer, request.data)  # fields left out keep their value
        current = template_get(kind=kind, channel=channel)
        template = template_update(
            actor=_actor(request),
            perm=CARE_PERM,
            kind=kind,
            channel=channel,
            subject=data.get("subject", current.subject),
            body=data.get("body", current.body),
            is_active=data.get("is_active", current.is_active),
        )
        return Response(CareTemplateSerializer(template).data)


class CareSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = CareSettings
        fields = ["points_notice_days", "membership_notice_days"]


class CareSettingsDetail(APIView):
    """GET / PUT {points_notice_days, membership_notice_days}: how many days ahead members are warned that
    their points or membership expire (1-365)."""

    permission_classes = [IsAuthenticated, HasPerm(CARE_PERM)]

    @extend_schema(responses={200: CareSettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(CareSettingsSerializer(care_settings_get()).data)

    @extend_schema(request=CareSettingsSerializer, responses={200: CareSettingsSerializer})
    def put(self, request: Request) -> Response:
        # Plain integers here; the range is the service's rule (same message as on the care page).
        data = parse(CareSettingsUpdateSerializer, request.data)
        care = care_settings_update(actor=_actor(request), perm=CARE_PERM, **data)
        return Response(CareSettingsSerializer(care).data)


class CareSettingsUpdateSerializer(serializers.Serializer):
    points_notice_days = serializers.IntegerField()
    membership_notice_days = serializers.IntegerField()
