from django.urls import path, re_path

from crm.modules.messaging.public import Channel, EventKind
from crm.modules.retail import api

urlpatterns = [
    path("lookup/", api.Lookup.as_view(), name="lookup"),
    path("members/", api.MemberList.as_view(), name="member-list"),
    path("members/export/", api.MemberExport.as_view(), name="member-export"),
    path("members/<int:pk>/", api.MemberDetail.as_view(), name="member-detail"),
    path("members/<int:pk>/redeem/", api.Redeem.as_view(), name="redeem"),
    path("members/<int:pk>/renew/", api.Renew.as_view(), name="renew"),
    path("sales/", api.SaleCreate.as_view(), name="sale-create"),
    path("sales/<int:pk>/void/", api.SaleVoid.as_view(), name="sale-void"),
    path("results/", api.Results.as_view(), name="results"),
    path("expiring/", api.Expiring.as_view(), name="expiring"),
    path("care/templates/", api.CareTemplateList.as_view(), name="care-template-list"),
    # Only real events and channels resolve: anything else is the API's plain 404.
    re_path(
        rf"^care/templates/(?P<kind>{'|'.join(EventKind.values)})/(?P<channel>{'|'.join(Channel.values)})/$",
        api.CareTemplateDetail.as_view(),
        name="care-template-detail",
    ),
    path("care/settings/", api.CareSettingsDetail.as_view(), name="care-settings"),
]
