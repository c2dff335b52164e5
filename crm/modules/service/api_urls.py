from django.urls import path

from crm.modules.service import api

urlpatterns = [
    path("agreements/", api.AgreementList.as_view(), name="agreement-list"),
    path("agreements/<int:pk>/", api.AgreementDetail.as_view(), name="agreement-detail"),
    path("agreements/<int:pk>/cancel/", api.AgreementCancel.as_view(), name="agreement-cancel"),
    path("agreements/<int:pk>/entitlements/", api.EntitlementAdd.as_view(), name="entitlement-add"),
    path("orders/", api.OrderList.as_view(), name="order-list"),
    path("orders/export/", api.OrderExport.as_view(), name="order-export"),
    path("orders/<int:pk>/", api.OrderDetail.as_view(), name="order-detail"),
    path("orders/<int:pk>/transition/", api.OrderTransition.as_view(), name="order-transition"),
    path("orders/<int:pk>/work/", api.OrderWorkLog.as_view(), name="order-worklog"),
    path("orders/<int:pk>/signoff/", api.OrderSignoff.as_view(), name="order-signoff"),
    path("visits/", api.VisitList.as_view(), name="visit-list"),
    path("visits/<int:pk>/done/", api.VisitDone.as_view(), name="visit-done"),
    path("reports/", api.Reports.as_view(), name="reports"),
]
