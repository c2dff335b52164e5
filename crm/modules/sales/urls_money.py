"""HTML routes: money (sales settings, invoicing requests and fapiao, targets and achievement)."""

from django.urls import URLPattern, URLResolver, path

from crm.modules.sales import views_money as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/", v.sales_settings, name="sales_settings"),
    path("fapiao/", v.fapiao_list, name="fapiao_list"),
    path("fapiao/export/", v.fapiao_export, name="fapiao_export"),
    path("fapiao/<int:pk>/red/", v.fapiao_red, name="fapiao_red"),
    path("fapiao/contracts/<int:pk>/", v.fapiao_contract, name="fapiao_contract"),
    path("fapiao/contracts/<int:pk>/request/", v.invoice_request_create, name="invoice_request_create"),
    path("fapiao/contracts/<int:pk>/record/", v.fapiao_record, name="fapiao_record"),
    path("invoice-requests/", v.invoice_request_list, name="invoice_request_list"),
    path("invoice-requests/<int:pk>/close/", v.invoice_request_close, name="invoice_request_close"),
    path("targets/", v.target_grid, name="target_grid"),
    path("targets/copy/", v.target_copy, name="target_copy"),
    path("targets/achievement/", v.achievement, name="achievement"),
]
