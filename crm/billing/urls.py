"""Owner billing pages on the tenant host, mounted at /billing/ (namespace "billing")."""

from django.urls import path

from crm.billing import views

app_name = "billing"
urlpatterns = [
    path("", views.billing_page, name="page"),
    path("preview/", views.change_preview, name="preview"),
    path("checkout/", views.checkout, name="checkout"),
    path("portal/", views.portal, name="portal"),
    path("cancel/", views.cancel, name="cancel"),
    path("return/", views.returned, name="returned"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf_download, name="invoice-pdf"),
    path("export/", views.workspace_export, name="export"),
    path("export/<str:name>", views.workspace_export_download, name="export-download"),
]

# Public host: the Stripe webhook and the operator's billing pages (included from config/urls_public.py).
public_urlpatterns = [
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
    path("console/billing/", views.console_billing, name="billing-console"),
    path("console/billing/prices/", views.console_prices, name="billing-console-prices"),
    path("console/billing/terms/", views.console_terms, name="billing-console-terms"),
    path(
        "console/billing/tenants/<int:tenant_id>/",
        views.console_tenant_invoices,
        name="billing-console-tenant",
    ),
    path(
        "console/billing/tenants/<int:tenant_id>/discount/",
        views.console_discount,
        name="billing-console-discount",
    ),
    path("console/billing/tenants/<int:tenant_id>/close/", views.console_close, name="billing-console-close"),
    path(
        "console/billing/tenants/<int:tenant_id>/exports/<str:name>",
        views.console_export,
        name="billing-console-export",
    ),
    path(
        "console/billing/invoice-runs/<int:run_id>/retry/",
        views.console_invoice_run_retry,
        name="billing-console-invoice-run-retry",
    ),
    path(
        "console/billing/invoices/<int:invoice_id>/mark-paid/",
        views.console_mark_paid,
        name="billing-console-mark-paid",
    ),
    path(
        "console/billing/invoices/<int:invoice_id>/pdf/",
        views.console_invoice_pdf,
        name="billing-console-invoice-pdf",
    ),
]
