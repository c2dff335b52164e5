"""Billing API on the tenant host, /api/v1/billing/ (namespace api-billing). Thin DRF views."""

from __future__ import annotations

from typing import Any

from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.billing import selectors, services
from crm.billing.models import Invoice, InvoiceLine
from crm.platform.errors import PermissionDenied
from crm.platform.permissions import has_perm


class PreviewQuery(serializers.Serializer):
    module = serializers.CharField()
    action = serializers.ChoiceField(choices=["enable", "disable"])


class PreviewResult(serializers.Serializer):
    module = serializers.CharField()
    action = serializers.CharField()
    currency = serializers.CharField()
    this_month = serializers.DecimalField(max_digits=12, decimal_places=2)
    monthly_from_next_month = serializers.DecimalField(max_digits=12, decimal_places=2)
    next_month_starts = serializers.DateField()


class ChangePreviewView(APIView):
    """What turning a module on or off costs this month (prorated by day) and per month from next month."""

    @extend_schema(parameters=[PreviewQuery], responses=PreviewResult)
    def get(self, request: Request) -> Response:
        if not (has_perm(request.user, "workspace.manage_modules") or has_perm(request.user, "billing.view")):  # type: ignore[arg-type]
            raise PermissionDenied(_("You do not have permission to do this."))
        query = PreviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = services.module_change_preview(
            tenant=request.tenant,  # type: ignore[attr-defined]
            module=query.validated_data["module"],
            enable=query.validated_data["action"] == "enable",
        )
        return Response(
            {
                "module": result["module"],
                "action": query.validated_data["action"],
                "currency": result["currency"],
                "this_month": str(result["this_month"]),
                "monthly_from_next_month": str(result["monthly_from_next_month"]),
                "next_month_starts": result["next_month_starts"].isoformat(),
            }
        )


class LineSerializer(serializers.ModelSerializer[InvoiceLine]):
    class Meta:
        model = InvoiceLine
        fields = ["module", "description", "days", "monthly_amount", "amount", "currency"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    lines = LineSerializer(many=True, read_only=True)
    pdf = serializers.SerializerMethodField(
        help_text="The invoice as PDF: ours for manual invoices, Stripe's otherwise."
    )

    @extend_schema_field(OpenApiTypes.URI)
    def get_pdf(self, invoice: Invoice) -> str | None:
        if invoice.manual:
            path = reverse("billing:invoice-pdf", kwargs={"invoice_id": invoice.pk})
            request = self.context.get("request")
            return request.build_absolute_uri(path) if request is not None else path
        return invoice.pdf_url or None

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "period_start",
            "period_end",
            "total",
            "currency",
            "status",
            "manual",
            "pdf_url",
            "pdf",
            "hosted_url",
            "due_at",
            "paid_at",
            "lines",
        ]
        read_only_fields = fields  # a read-only resource: the schema says so


class InvoiceList(ListAPIView[Invoice]):
    """The workspace's invoices with their lines (owners, admins and finance)."""

    serializer_class = InvoiceSerializer

    def get_queryset(self) -> Any:
        return selectors.invoices_for(user=self.request.user, tenant=self.request.tenant)  # type: ignore[attr-defined]


app_name = "api-billing"
urlpatterns = [
    path("preview/", ChangePreviewView.as_view(), name="preview"),
    path("invoices/", InvoiceList.as_view(), name="invoices"),
]
