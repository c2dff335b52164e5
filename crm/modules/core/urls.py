from django.urls import path

from crm.modules.core import views

urlpatterns = [
    path("", views.home, name="home"),
]
