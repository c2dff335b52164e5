"""URLs of the public schema: marketing site, pricing, signup, operator console, billing webhooks."""

from django.urls import include, path, re_path
from django.views.i18n import set_language

from crm.api.errors import not_found as api_not_found
from crm.billing.urls import public_urlpatterns as billing_public_urls
from crm.platform import views_public

urlpatterns = [
    path("", views_public.home, name="public-home"),
    path("pricing/", views_public.pricing, name="pricing"),
    path("signup/", views_public.signup, name="signup"),
    path("signup/check-slug/", views_public.signup_slug_check, name="signup-slug-check"),
    path("healthz", views_public.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    *billing_public_urls,  # Stripe webhook + /console/billing/ (before the console's own patterns)
    path("console/", include("crm.platform.console.urls")),
    # The API lives on workspace hosts only; here any /api/ path is the API's JSON 404, not an HTML page.
    re_path(r"^api/", api_not_found),
]

# A database restart answers 503 "try again" (translated), the API its error shape: see views_errors.py.
handler500 = "crm.platform.views_errors.server_error"
