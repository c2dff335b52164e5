"""REST API of the service module (/api/v1/service/): agreements, orders (transitions, work log, sign-off),
return visits and reports, with the same permissions and data scope as the pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponseBase
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
from crm.modules.core.public import customer_get
from crm.platform.errors import NotFound, ServiceError
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import Agreement, Entitlement, Priority, ReturnVisit, ServiceOrder, SlaPlan, WorkLog

MAX_ID = 2**62


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _customer(user: User, pk: int) -> Any:
    try:
        return customer_get(user, pk)
    except Http404:
        raise NotFound(_("No such customer."), field="customer") from None


def _id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# --- serializers -------------------------------------------------------------------------------------


class EntitlementSerializer(serializers.ModelSerializer):
    left = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = Entitlement
        fields = ["id", "description", "unit", "sold", "used", "left"]


class AgreementSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    hours_sold = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, default=None, allow_null=True
    )
    hours_used = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Agreement
        fields = [
            "id",
            "number",
            "title",
            "customer",
            "customer_name",
            "contract",
            "owner",
            "status",
            "start_date",
            "end_date",
            "auto_renew",
            "renewal_notice_days",
            "sla_plan",
            "value",
            "currency",
            "hours_sold",
            "hours_used",
        ]


class AgreementDetailSerializer(AgreementSerializer):
    entitlements = EntitlementSerializer(many=True, read_only=True)

    class Meta(AgreementSerializer.Meta):
        fields = [*AgreementSerializer.Meta.fields, "notes", "entitlements"]


class EntitlementInputSerializer(serializers.Serializer):
    description = Text(max_length=200, allow_blank=False, required=True)
    unit = serializers.ChoiceField(choices=Entitlement.Unit.choices, default=Entitlement.Unit.HOURS)
    sold = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))


class AgreementInputSerializer(serializers.Serializer):
    customer = _id()
    title = Text(max_length=200, allow_blank=False, required=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    value = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    auto_renew = serializers.BooleanField(default=False)
    renewal_notice_days = serializers.IntegerField(min_value=0, max_value=365, default=30)
    sla_plan = serializers.PrimaryKeyRelatedField(
        queryset=SlaPlan.objects.all(), required=False, allow_null=True
    )
    notes = Text(max_length=2000)
    entitlements = EntitlementInputSerializer(many=True, required=False)


class OrderSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    assignee_name = serializers.CharField(
        source="assignee.name", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = ServiceOrder
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "agreement",
            "owner",
            "assignee",
            "assignee_name",
            "priority",
            "subject",
            "status",
            "opened_at",
            "response_due",
            "resolution_due",
            "responded_at",
            "resolved_at",
            "closed_at",
            "sla_met",
            "hours_logged",
            "reopened",
        ]


class WorkLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkLog
        fields = ["id", "user", "work_date", "hours", "consumed", "overage", "on_site", "note", "entitlement"]


class OrderDetailSerializer(OrderSerializer):
    work_logs = WorkLogSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [
            *OrderSerializer.Meta.fields,
            "description",
            "signed_by",
            "signed_at",
            "satisfaction_note",
            "work_logs",
        ]


class OrderInputSerializer(serializers.Serializer):
    customer = _id()
    agreement = _id(required=False, allow_null=True)
    subject = Text(max_length=200, allow_blank=False, required=True)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    description = Text(max_length=5000)
    assignee = _id(required=False, allow_null=True)


class OrderQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["open", *ServiceOrder.Status.values], required=False, default=""
    )
    mine = serializers.BooleanField(required=False, default=False)
    customer = _id(required=False)
    q = Text(max_length=100)


class ServiceOrderTransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(services.TRANSITIONS))
    assignee = _id(required=False, allow_null=True)


class WorkLogInputSerializer(serializers.Serializer):
    hours = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("24")
    )
    work_date = serializers.DateField(required=False, allow_null=True)
    note = Text(max_length=500)
    billable_overage = serializers.BooleanField(default=False)
    on_site = serializers.BooleanField(default=False)
    client_token = Text(max_length=64)


class SignoffSerializer(serializers.Serializer):
    name = Text(max_length=100, allow_blank=False, required=True)
    note = Text(max_length=500)


class VisitSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = ReturnVisit
        fields = [
            "id",
            "customer",
            "customer_name",
            "order",
            "agreement",
            "owner",
            "scheduled_on",
            "done_at",
            "score",
            "comment",
            "follow_up",
        ]


class VisitInputSerializer(serializers.Serializer):
    customer = _id()
    scheduled_on = serializers.DateField()
    order = _id(required=False, allow_null=True)


class VisitDoneSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = Text(max_length=2000)
    follow_up = Text(max_length=300)


class VisitQuery(serializers.Serializer):
    due = serializers.BooleanField(required=False, default=False)


class AgreementQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Agreement.Status.choices, required=False, default="")
    q = Text(max_length=100)


# --- report documentation ----------------------------------------------------------------------------


class _RenewalWindow(serializers.Serializer):
    days = serializers.IntegerField()
    count = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=16, decimal_places=2)


class _SlaMonth(serializers.Serializer):
    month = serializers.DateTimeField()
    total = serializers.IntegerField()
    met = serializers.IntegerField()
    percent = serializers.DecimalField(max_digits=5, decimal_places=1)


class _SlaAssignee(serializers.Serializer):
    assignee_id = serializers.IntegerField(allow_null=True)
    assignee__name = serializers.CharField(allow_null=True)
    total = serializers.IntegerField()
    met = serializers.IntegerField()
    percent = serializers.DecimalField(max_digits=5, decimal_places=1)


class _Hours(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer__name = serializers.CharField()
    sold = serializers.DecimalField(max_digits=12, decimal_places=2)
    used = serializers.DecimalField(max_digits=12, decimal_places=2)
    left = serializers.DecimalField(max_digits=12, decimal_places=2)
    delivered = serializers.DecimalField(max_digits=12, decimal_places=2)


class _Money(serializers.Serializer):
    customer_id = serializers.IntegerField()
    customer__name = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    paid = serializers.DecimalField(max_digits=16, decimal_places=2)
    receivable = serializers.DecimalField(max_digits=16, decimal_places=2)


class ReportsSerializer(serializers.Serializer):
    today = serializers.DateField()
    renewals = _RenewalWindow(many=True)
    renewals_due = AgreementSerializer(many=True)
    sla_by_month = _SlaMonth(many=True)
    sla_by_assignee = _SlaAssignee(many=True)
    hours = _Hours(many=True)
    money = _Money(many=True)


# --- agreements --------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(Agreement.Status.values)),
            OpenApiParameter("q", str, description="Search text."),
        ]
    )
)
class AgreementList(generics.ListAPIView):
    """GET: the agreements in the user's scope. POST: a new agreement with its entitlements."""

    serializer_class = AgreementSerializer
    permission_classes = [IsAuthenticated, HasPerm("service.view", write="service.agreement_edit")]

    def get_queryset(self) -> QuerySet[Agreement]:
        query = parse_query(AgreementQuery, self.request)
        return selectors.agreement_list(_actor(self.request), status=query["status"], q=query.get("q", ""))

    @extend_schema(request=AgreementInputSerializer, responses={201: AgreementDetailSerializer})
    def post(self, request: Request) -> Response:
        data = parse(AgreementInputSerializer, request.data)
        actor = _actor(request)
        agreement = services.agreement_create(
            actor=actor,
            customer=_customer(actor, data.pop("customer")),
            entitlements=[services.EntitlementInput(**e) for e in data.pop("entitlements", None) or []],
            **data,
        )
        return Response(AgreementDetailSerializer(agreement).data, status=status.HTTP_201_CREATED)


class AgreementDetail(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.view")]

    @extend_schema(responses={200: AgreementDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(AgreementDetailSerializer(selectors.agreement_get(_actor(request), pk)).data)


class EntitlementAdd(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.agreement_edit")]

    @extend_schema(request=EntitlementInputSerializer, responses={201: EntitlementSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(EntitlementInputSerializer, request.data)
        agreement = selectors.agreement_get(_actor(request), pk)
        line = services.entitlement_add(
            actor=_actor(request), agreement=agreement, line=services.EntitlementInput(**data)
        )
        return Response(EntitlementSerializer(line).data, status=status.HTTP_201_CREATED)


# --- orders ------------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=["open", *ServiceOrder.Status.values]),
            OpenApiParameter("mine", bool, description="Only orders assigned to me."),
            OpenApiParameter("customer", int),
            OpenApiParameter("q", str, description="Search text."),
        ]
    )
)
class OrderList(generics.ListAPIView):
    """GET: service orders in the user's scope (technicians: theirs). POST: open an order."""

    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated, HasPerm("service.view", write="service.order_create")]

    def get_queryset(self) -> QuerySet[ServiceOrder]:
        query = parse_query(OrderQuery, self.request)
        return selectors.order_list(
            _actor(self.request),
            status=query["status"],
            mine=query["mine"],
            customer_id=query.get("customer"),
            q=query.get("q", ""),
        )

    @extend_schema(request=OrderInputSerializer, responses={201: OrderDetailSerializer})
    def post(self, request: Request) -> Response:
        data = parse(OrderInputSerializer, request.data)
        actor = _actor(request)
        customer = _customer(actor, data["customer"])
        agreement = None
        if data.get("agreement"):
            agreement = selectors.agreements_visible(actor).filter(pk=data["agreement"]).first()
            if agreement is None:
                raise NotFound(_("No such agreement."), field="agreement")
        assignee = _user_or_error(data.get("assignee"))
        order = services.order_create(
            actor=actor,
            customer=customer,
            agreement=agreement,
            subject=data["subject"],
            priority=data["priority"],
            description=data.get("description", ""),
            assignee=assignee,
        )
        return Response(OrderDetailSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderExportQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=FORMATS, required=False, default="csv")
    status = serializers.ChoiceField(
        choices=["open", *ServiceOrder.Status.values], required=False, default=""
    )


class OrderExport(APIView):
    """GET ?type=csv|xlsx&status=: the service orders in the user's scope as a download."""

    permission_classes = [IsAuthenticated, HasPerm("service.view")]

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=list(FORMATS), default="csv", description="File format."),
            OpenApiParameter("status", str, enum=["open", *ServiceOrder.Status.values]),
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY},
    )
    def get(self, request: Request) -> HttpResponseBase:
        query = parse_query(OrderExportQuery, request)
        return export_orders(selectors.order_list(_actor(request), status=query["status"]), fmt=query["type"])


def export_orders(orders: QuerySet[ServiceOrder], *, fmt: str = "csv") -> HttpResponseBase:
    columns = [
        _("Number"),
        _("Customer"),
        _("Subject"),
        _("Priority"),
        _("Status"),
        _("Assignee"),
        _("Opened"),
        _("Resolution due"),
        _("Resolved"),
        _("SLA met"),
        _("Hours"),
        _("Signed off by"),
    ]
    rows = (
        [
            o.number,
            o.customer.name,
            o.subject,
            o.get_priority_display(),
            o.get_status_display(),
            o.assignee.name if o.assignee else "",
            o.opened_at,
            o.resolution_due,
            o.resolved_at,
            "" if o.sla_met is None else (_("yes") if o.sla_met else _("no")),
            o.hours_logged,
            o.signed_by,
        ]
        for o in orders.iterator(chunk_size=2000)
    )
    return export_response(rows=rows, columns=columns, filename="service-orders", fmt=fmt)


class AgreementCancel(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.agreement_edit")]

    @extend_schema(request=None, responses={200: AgreementDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        agreement = selectors.agreement_get(_actor(request), pk)
        agreement = services.agreement_cancel(actor=_actor(request), agreement=agreement)
        return Response(AgreementDetailSerializer(agreement).data)


def _user_or_error(pk: int | None) -> User | None:
    if not pk:
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ServiceError(_("No such user."), field="assignee")
    return user


class OrderDetail(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.view")]

    @extend_schema(responses={200: OrderDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(OrderDetailSerializer(selectors.order_get(_actor(request), pk)).data)


class OrderTransition(APIView):
    """POST {action: assign|start|wait|resolve|close|reopen, assignee}: move the order."""

    permission_classes = [IsAuthenticated, HasPerm("service.order_work")]

    @extend_schema(request=ServiceOrderTransitionSerializer, responses={200: OrderDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(ServiceOrderTransitionSerializer, request.data)
        order = selectors.order_get(_actor(request), pk)
        order = services.order_transition(
            actor=_actor(request),
            order=order,
            action=data["action"],
            assignee=_user_or_error(data.get("assignee")),
        )
        return Response(OrderDetailSerializer(order).data)


class OrderWorkLog(APIView):
    """POST {hours, note, work_date, billable_overage, on_site, client_token}: log work (consumes the
    agreement's hours; more than is left is refused unless billable_overage)."""

    permission_classes = [IsAuthenticated, HasPerm("service.order_work")]

    @extend_schema(request=WorkLogInputSerializer, responses={201: WorkLogSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(WorkLogInputSerializer, request.data)
        order = selectors.order_get(_actor(request), pk)
        log = services.worklog_add(
            actor=_actor(request),
            order=order,
            hours=data["hours"],
            note=data.get("note", ""),
            work_date=data.get("work_date"),
            billable_overage=data["billable_overage"],
            on_site=data["on_site"],
            client_token=data.get("client_token") or None,
        )
        return Response(WorkLogSerializer(log).data, status=status.HTTP_201_CREATED)


class OrderSignoff(APIView):
    """POST {name, note}: the customer's typed sign-off of a resolved order (closes it)."""

    permission_classes = [IsAuthenticated, HasPerm("service.order_work")]

    @extend_schema(request=SignoffSerializer, responses={200: OrderDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(SignoffSerializer, request.data)
        order = selectors.order_get(_actor(request), pk)
        order = services.order_signoff(
            actor=_actor(request), order=order, name=data["name"], note=data.get("note", "")
        )
        return Response(OrderDetailSerializer(order).data)


# --- visits ------------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("due", bool, description="Only visits not done.")])
)
class VisitList(generics.ListAPIView):
    serializer_class = VisitSerializer
    permission_classes = [IsAuthenticated, HasPerm("service.visit_edit")]

    def get_queryset(self) -> QuerySet[ReturnVisit]:
        return selectors.visit_list(_actor(self.request), due=parse_query(VisitQuery, self.request)["due"])

    @extend_schema(request=VisitInputSerializer, responses={201: VisitSerializer})
    def post(self, request: Request) -> Response:
        data = parse(VisitInputSerializer, request.data)
        actor = _actor(request)
        customer = _customer(actor, data["customer"])
        order = None
        if data.get("order"):
            order = selectors.orders_visible(actor).filter(pk=data["order"]).first()
            if order is None:
                raise NotFound(_("No such service order."), field="order")
        visit = services.visit_create(
            actor=actor, customer=customer, scheduled_on=data["scheduled_on"], order=order
        )
        return Response(VisitSerializer(visit).data, status=status.HTTP_201_CREATED)


class VisitDone(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.visit_edit")]

    @extend_schema(request=VisitDoneSerializer, responses={200: VisitSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = parse(VisitDoneSerializer, request.data)
        visit = selectors.visit_get(_actor(request), pk)
        visit = services.visit_complete(actor=_actor(request), visit=visit, **data)
        return Response(VisitSerializer(visit).data)


class Reports(APIView):
    permission_classes = [IsAuthenticated, HasPerm("service.reports")]

    @extend_schema(responses={200: ReportsSerializer})
    def get(self, request: Request) -> Response:
        return Response(ReportsSerializer(selectors.reports(_actor(request))).data)
