"""URLs of the public schema: marketing site, pricing, signup, operator console, billing webhooks."""

from django.urls import include, path
from django.views.i18n import set_language

from crm.platform import views_public

urlpatterns = [
    path("", views_public.home, name="public-home"),
    path("pricing/", views_public.pricing, name="pricing"),
    path("signup/", views_public.signup, name="signup"),
    path("healthz", views_public.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("console/", include("crm.platform.console.urls")),
]
