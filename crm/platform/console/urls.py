from django.urls import path

from crm.platform.console import views

urlpatterns = [
    path("", views.tenant_list, name="console-tenants"),
]
