from django.urls import path

from crm.modules.messaging.public import care_page
from crm.modules.retail import views

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("members/<int:pk>/", views.card, name="card"),
    path("members/<int:pk>/sale/", views.sale_create, name="sale_create"),
    path("members/<int:pk>/redeem/", views.redeem, name="redeem"),
    path("members/<int:pk>/renew/", views.renew, name="renew"),
    path("sales/<int:pk>/void/", views.sale_void, name="sale_void"),
    path("members/", views.member_list, name="member_list"),
    path("members/export/", views.member_export, name="member_export"),
    path("stores/", views.store_list, name="store_list"),
    path("stores/<int:pk>/clerks/", views.store_assign, name="store_assign"),
    path("setup/", views.setup, name="setup"),
    path("reminders/", views.reminders, name="reminders"),
    path("results/", views.results, name="results"),
    path("care/", care_page, {"perm": "retail.manage", "panel": views.care_panel}, name="care"),
    path("care/runs/<int:pk>/retry/", views.care_retry, name="care_retry"),
]
