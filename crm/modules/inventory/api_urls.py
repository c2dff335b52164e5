from django.urls import path

from crm.modules.inventory import api, api_fulfilment

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
    path("to-ship/", api_fulfilment.ToShipList.as_view(), name="to-ship-list"),
    path("deliveries/", api_fulfilment.DeliveryList.as_view(), name="delivery-list"),
    path("deliveries/<int:pk>/", api_fulfilment.DeliveryDetail.as_view(), name="delivery-detail"),
    path("returns/", api_fulfilment.ReturnList.as_view(), name="return-list"),
    path("returns/<int:pk>/", api_fulfilment.ReturnDetail.as_view(), name="return-detail"),
    path("samples/", api_fulfilment.SampleList.as_view(), name="sample-list"),
    path("samples/<int:pk>/", api_fulfilment.SampleDetail.as_view(), name="sample-detail"),
    path("samples/<int:pk>/action/", api_fulfilment.SampleAction.as_view(), name="sample-action"),
]
