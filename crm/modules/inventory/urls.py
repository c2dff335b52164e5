from django.urls import path

from crm.modules.inventory import views

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
]
