from django.urls import path

from crm.modules.inventory import api

urlpatterns = [
    path("warehouses/", api.WarehouseList.as_view(), name="warehouse-list"),
    path("warehouses/<int:pk>/", api.WarehouseDetail.as_view(), name="warehouse-detail"),
    path("balances/", api.BalanceList.as_view(), name="balance-list"),
    path("moves/", api.MoveList.as_view(), name="move-list"),
    path("stock-as-of/", api.StockAsOf.as_view(), name="stock-as-of"),
    path("transfers/", api.TransferList.as_view(), name="transfer-list"),
    path("counts/", api.CountList.as_view(), name="count-list"),
    path("post/", api.Post.as_view(), name="post"),
    path("reorder/", api.ReorderList.as_view(), name="reorder-list"),
    path("value/", api.StockValue.as_view(), name="value"),
]
