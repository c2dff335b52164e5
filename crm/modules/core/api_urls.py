from django.urls import path

from crm.modules.core import api

urlpatterns = [
    path("customers/", api.CustomerList.as_view(), name="customer-list"),
    path("customers/<int:pk>/", api.CustomerDetail.as_view(), name="customer-detail"),
    path("customers/export/", api.CustomerExport.as_view(), name="customer-export"),
    path("imports/", api.ImportCreate.as_view(), name="import-create"),
    path("imports/<int:pk>/", api.ImportDetail.as_view(), name="import-detail"),
    path("customers/<int:pk>/share/", api.CustomerShareView.as_view(), name="customer-share"),
    path("customers/<int:pk>/merge/", api.CustomerMerge.as_view(), name="customer-merge"),
    path("customers/<int:pk>/history/", api.CustomerHistory.as_view(), name="customer-history"),
    path("custom-fields/", api.CustomFieldList.as_view(), name="custom-field-list"),
    path("search/", api.Search.as_view(), name="search"),
    path("weekly-reports/", api.WeeklyReportList.as_view(), name="weekly-report-list"),
    path("weekly-reports/<int:pk>/", api.WeeklyReportDetail.as_view(), name="weekly-report-detail"),
    path("contacts/", api.ContactList.as_view(), name="contact-list"),
    path("contacts/<int:pk>/", api.ContactDetail.as_view(), name="contact-detail"),
    path("activities/", api.ActivityList.as_view(), name="activity-list"),
    path("activities/<int:pk>/", api.ActivityDetail.as_view(), name="activity-detail"),
    path("activities/<int:pk>/comments/", api.ActivityCommentCreate.as_view(), name="activity-comment"),
    path("tasks/", api.TaskList.as_view(), name="task-list"),
    path("tasks/<int:pk>/complete/", api.TaskComplete.as_view(), name="task-complete"),
    path("documents/", api.DocumentList.as_view(), name="document-list"),
    path("products/", api.ProductList.as_view(), name="product-list"),
    path("products/<int:pk>/", api.ProductDetail.as_view(), name="product-detail"),
    path("handover/", api.Handover.as_view(), name="handover"),
    path("pool/", api.PoolList.as_view(), name="pool-list"),
    path("onboarding/", api.Onboarding.as_view(), name="onboarding"),
    path("sample-data/", api.SampleData.as_view(), name="sample-data"),
    path("pool/<int:pk>/claim/", api.PoolClaim.as_view(), name="pool-claim"),
]
