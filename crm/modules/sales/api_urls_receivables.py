"""API routes: receivables (installments, plans, receipts, credit, aging, forecast, statements)."""

from django.urls import URLPattern, URLResolver, path

from . import api_receivables as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("installments/", api.InstallmentList.as_view(), name="installment-list"),
    path("contracts/<int:pk>/plan/", api.ContractPlan.as_view(), name="contract-plan"),
    path("receipts/", api.ReceiptList.as_view(), name="receipt-list"),
    path("receipts/<int:pk>/", api.ReceiptDetail.as_view(), name="receipt-detail"),
    path("receipts/<int:pk>/reverse/", api.ReceiptReverse.as_view(), name="receipt-reverse"),
    path("customers/<int:pk>/credit/apply/", api.CreditApply.as_view(), name="customer-credit-apply"),
    path("customers/<int:pk>/statement/", api.Statement.as_view(), name="customer-statement"),
    path("aging/", api.Aging.as_view(), name="aging"),
    path("collections-forecast/", api.Forecast.as_view(), name="collections-forecast"),
]
