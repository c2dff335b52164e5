from django.urls import path

from crm.modules.purchasing import views

urlpatterns = [
    path("", views.supplier_list, name="supplier_list"),
    path("suppliers/new/", views.supplier_create, name="supplier_create"),
    path("suppliers/<int:pk>/", views.supplier_detail, name="supplier_detail"),
    path("suppliers/<int:pk>/edit/", views.supplier_edit, name="supplier_edit"),
    path("rfqs/", views.rfq_list, name="rfq_list"),
    path("rfqs/<int:pk>/", views.rfq_detail, name="rfq_detail"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<int:pk>/", views.order_detail, name="purchaseorder_detail"),
    path("orders/<int:pk>/edit/", views.order_edit, name="order_edit"),
    path("orders/<int:pk>/action/", views.order_action, name="order_action"),
    path("orders/<int:pk>/receive/", views.order_receive, name="order_receive"),
    path("orders/<int:pk>/return/", views.order_return, name="order_return"),
    path("orders/<int:pk>/pdf/", views.order_pdf, name="order_pdf"),
    path("payables/", views.payables, name="payables"),
    path("settings/", views.settings_page, name="settings"),
]
