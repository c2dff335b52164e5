"""Workspace settings: modules, users, teams, invitations, API keys."""

from django.urls import path

from crm.tenants import views

urlpatterns = [
    path("modules/", views.modules_page, name="settings-modules"),
]
