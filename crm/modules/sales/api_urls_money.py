"""API routes: money (settings, invoicing requests, fapiao, targets, achievement)."""

from django.urls import URLPattern, URLResolver, path

from crm.modules.sales import api_money as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/", api.SettingsDetail.as_view(), name="settings"),
    path("invoice-requests/", api.InvoiceRequestList.as_view(), name="invoice-request-list"),
    path("fapiao/", api.FapiaoList.as_view(), name="fapiao-list"),
    path("fapiao/<int:pk>/red/", api.FapiaoRed.as_view(), name="fapiao-red"),
    path("targets/", api.TargetList.as_view(), name="target-list"),
    path("achievement/", api.Achievement.as_view(), name="achievement"),
]
