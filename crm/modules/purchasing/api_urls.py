from django.urls import path

from crm.modules.purchasing import api

urlpatterns = [
    path("suppliers/", api.SupplierList.as_view(), name="supplier-list"),
    path("suppliers/<int:pk>/", api.SupplierDetail.as_view(), name="supplier-detail"),
    path("suppliers/<int:pk>/contacts/", api.SupplierContacts.as_view(), name="supplier-contacts"),
    path("prices/", api.PriceList.as_view(), name="price-list"),
    path("orders/", api.OrderList.as_view(), name="order-list"),
    path("orders/<int:pk>/", api.OrderDetail.as_view(), name="order-detail"),
    path("orders/<int:pk>/transition/", api.OrderTransition.as_view(), name="order-transition"),
    path("orders/<int:pk>/receipts/", api.OrderReceive.as_view(), name="order-receive"),
    path("orders/<int:pk>/returns/", api.OrderReturn.as_view(), name="order-return"),
    path("receipts/", api.ReceiptList.as_view(), name="receipt-list"),
    path("rfqs/", api.RfqList.as_view(), name="rfq-list"),
    path("rfqs/<int:pk>/", api.RfqDetail.as_view(), name="rfq-detail"),
    path("rfqs/<int:pk>/quotes/", api.RfqQuotes.as_view(), name="rfq-quotes"),
    path("rfqs/<int:pk>/award/", api.RfqAward.as_view(), name="rfq-award"),
    path("bills/", api.BillList.as_view(), name="bill-list"),
    path("payments/", api.PaymentList.as_view(), name="payment-list"),
    path("payables/", api.AgingList.as_view(), name="payables"),
]
