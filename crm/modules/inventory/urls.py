from django.urls import path

from crm.modules.inventory import views, views_fulfilment

urlpatterns = [
    path("", views.stock, name="stock"),
    path("as-of/", views.as_of, name="as_of"),
    path("products/<int:pk>/", views.product, name="product"),
    path("units/<int:pk>/delete/", views.conversion_delete, name="conversion_delete"),
    path("warehouses/", views.warehouse_list, name="warehouse_list"),
    path("warehouses/<int:pk>/", views.warehouse_edit, name="warehouse_edit"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("counts/", views.count_list, name="count_list"),
    path("opening/", views.opening, name="opening"),
    path("documents/<int:pk>/", views.document, name="document"),
    path("reorder/", views.reorder, name="reorder"),
    path("to-ship/", views_fulfilment.to_ship, name="to_ship"),
    path("ship/<int:pk>/", views_fulfilment.ship, name="ship"),
    path("deliveries/", views_fulfilment.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/", views_fulfilment.delivery_detail, name="delivery_detail"),
    path("deliveries/<int:pk>/print/", views_fulfilment.delivery_print, name="delivery_print"),
    path("deliveries/<int:pk>/pdf/", views_fulfilment.delivery_pdf, name="delivery_pdf"),
    path("samples/", views_fulfilment.sample_list, name="sample_list"),
    path("samples/new/", views_fulfilment.sample_new, name="sample_new"),
    path("samples/<int:pk>/", views_fulfilment.sample_detail, name="sample_detail"),
    path("samples/<int:pk>/action/", views_fulfilment.sample_action, name="sample_action"),
]
