from django.contrib.auth import views as auth_views
from django.urls import path

from crm.tenants.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("handoff/<str:token>/", views.handoff, name="handoff"),
    path("impersonation/end/", views.impersonation_end, name="impersonation-end"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.language_switch, name="language"),
    path("invite/<str:token>/", views.invite_accept, name="invite-accept"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]
