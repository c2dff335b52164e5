from django.urls import path

from crm.modules.service import views

urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("orders/export/", views.order_export, name="order_export"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/work/", views.order_worklog, name="order_worklog"),
    path("orders/<int:pk>/signoff/", views.order_signoff, name="order_signoff"),
    path("orders/<int:pk>/transition/", views.order_transition, name="order_transition"),
    path("agreements/", views.agreement_list, name="agreement_list"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement_detail"),
    path("agreements/<int:pk>/cancel/", views.agreement_cancel, name="agreement_cancel"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/<int:pk>/done/", views.visit_done, name="visit_done"),
    path("reports/", views.reports, name="reports"),
    path("settings/", views.settings_page, name="settings"),
]
