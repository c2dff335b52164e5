"""HTML routes: receivables (payment plans, receipts, credit, aging, forecast, statements)."""

from django.urls import URLPattern, URLResolver, path

from . import views_receivables as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("receivables/", v.installment_list, name="receivables_installments"),
    path("receivables/contracts/<int:pk>/plan/", v.plan_edit, name="receivables_plan_edit"),
    path("receivables/receipts/", v.receipt_list, name="receipt_list"),
    path("receivables/receipts/new/", v.receipt_create, name="receipt_create"),
    path("receivables/receipts/<int:pk>/", v.receipt_detail, name="receipt_detail"),
    path("receivables/receipts/<int:pk>/reverse/", v.receipt_reverse, name="receipt_reverse"),
    path("receivables/customers/<int:pk>/credit/", v.credit_apply, name="receivables_credit_apply"),
    path("receivables/customers/<int:pk>/statement/", v.statement, name="receivables_statement"),
    path("receivables/aging/", v.aging, name="receivables_aging"),
    path("receivables/forecast/", v.forecast, name="receivables_forecast"),
]
