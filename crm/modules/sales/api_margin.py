"""REST API of the gross margin report: GET /api/v1/sales/margin/. Same permission, data scope and cost
visibility as the page (crm/modules/sales/costs.py): holders of sales.view_costs get every amount; sellers
get only the percents when the workspace lets reps see the margin percent; the others 403."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm, parse_query

from . import costs
from . import selectors_margin as sel

ID: dict[str, Any] = {"min_value": 1, "max_value": 2**31 - 1}
MONEY: dict[str, Any] = {"max_digits": 20, "decimal_places": 2, "allow_null": True}
PCT: dict[str, Any] = {"max_digits": 12, "decimal_places": 2, "allow_null": True}

_Declared: Any = HasPerm("sales.view_costs")


class CanSeeMargins(_Declared):  # type: ignore[misc,valid-type]
    """Declares sales.view_costs (what the module suite checks with the default settings); sellers pass
    too when reps may see the margin percent."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and sel.can_view(user))


class MarginQuery(serializers.Serializer):
    group = serializers.ChoiceField(choices=sel.GROUPS, required=False, default="order")
    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)
    owner = serializers.IntegerField(required=False, **ID)
    customer = serializers.IntegerField(required=False, **ID)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=sel.MAX_LIMIT, default=sel.DEFAULT_LIMIT
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a keyword in Python, a plain name in the query
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and end < start:
            raise serializers.ValidationError({"to": [_("The end date is before the start date.")]})
        return attrs


class MarginRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True, help_text="order, product, customer or rep id; month YYYY-MM-01"
    )
    label = serializers.CharField(allow_null=True, allow_blank=True)  # type: ignore[assignment]
    lines = serializers.IntegerField()
    unknown_lines = serializers.IntegerField(
        help_text="lines without a unit cost (not in the estimated margin)"
    )
    sales = serializers.DecimalField(**MONEY, help_text="all lines, tax excl.")
    unknown_sales = serializers.DecimalField(**MONEY)
    est_revenue = serializers.DecimalField(**MONEY)
    est_cost = serializers.DecimalField(**MONEY)
    est_margin = serializers.DecimalField(**MONEY)
    est_percent = serializers.DecimalField(**PCT)
    act_revenue = serializers.DecimalField(
        **MONEY, help_text="delivered share of the lines with an actual cost"
    )
    act_cost = serializers.DecimalField(**MONEY)
    act_margin = serializers.DecimalField(**MONEY)
    act_percent = serializers.DecimalField(**PCT)


class MarginTotalsSerializer(MarginRowSerializer):
    key = None  # type: ignore[assignment]
    label = None  # type: ignore[assignment]


class MarginReportSerializer(serializers.Serializer):
    group = serializers.CharField()
    amounts_visible = serializers.BooleanField(help_text="false: only the percents are given (amounts null)")
    truncated = serializers.BooleanField(
        help_text="more groups than `limit`: the top ones by estimated margin"
    )
    rows = MarginRowSerializer(many=True)
    totals = MarginTotalsSerializer()


class Margin(APIView):
    """Gross margin of confirmed and completed contracts and orders (tax excl.), estimated and actual,
    grouped by order, product, customer, rep or month (tenant time zone)."""

    permission_classes = [IsAuthenticated, CanSeeMargins]

    @extend_schema(
        parameters=[
            OpenApiParameter("group", str, enum=list(sel.GROUPS), description="default order"),
            OpenApiParameter("from", str, description="confirmed on or after, YYYY-MM-DD (tenant day)"),
            OpenApiParameter("to", str, description="confirmed on or before, YYYY-MM-DD (tenant day)"),
            OpenApiParameter("owner", int, description="the rep (contract owner)"),
            OpenApiParameter("customer", int),
            OpenApiParameter(
                "limit", int, description=f"grouped rows, 1-{sel.MAX_LIMIT}, default {sel.DEFAULT_LIMIT}"
            ),
        ],
        responses={200: MarginReportSerializer},
    )
    def get(self, request: Request) -> Response:
        q = parse_query(MarginQuery, request)
        filters = sel.MarginFilters(
            start=q.get("from"), end=q.get("to"), owner_id=q.get("owner"), customer_id=q.get("customer")
        )
        report = sel.margin_report(actor=request.user, group=q["group"], filters=filters, limit=q["limit"])
        see_costs = costs.can_see_costs(request.user)
        rows = []
        for row in report.rows:
            row = dict(row)
            if report.group == "month" and row.get("key") is not None:
                row["key"] = row["key"].isoformat()
            rows.append(sel.visible_part(row, see_costs=see_costs))
        data = {
            "group": report.group,
            "amounts_visible": see_costs,
            "truncated": report.truncated,
            "rows": rows,
            "totals": sel.visible_part(dict(report.totals), see_costs=see_costs),
        }
        return Response(MarginReportSerializer(data).data)
