"""Workspace settings: modules, users, teams, invitations, API keys (mounted at /settings/)."""

from django.urls import path

from crm.tenants import views

urlpatterns = [
    path("", views.settings_index, name="settings-index"),
    path("modules/", views.modules_page, name="settings-modules"),
    path("users/", views.users_page, name="settings-users"),
    path("users/invite/", views.invite, name="settings-invite"),
    path("users/<int:pk>/", views.user_edit, name="settings-user-edit"),
    path("users/<int:pk>/active/", views.user_active, name="settings-user-active"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="settings-invitation-revoke"),
    path("teams/", views.teams_page, name="settings-teams"),
    path("teams/<int:pk>/", views.team_edit, name="settings-team-edit"),
    path("api-keys/", views.api_keys_page, name="settings-api-keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="settings-api-key-revoke"),
]
