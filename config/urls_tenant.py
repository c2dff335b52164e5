"""URLs of a tenant workspace. Module URLs come from the registry, namespaced by module slug, so the
module gate (404 when disabled) and the cross-tenant test see every route without a list kept here."""

from django.urls import include, path, re_path
from django.views.i18n import set_language

from crm.api.errors import not_found as api_not_found
from crm.platform.registry import registry

urlpatterns = [
    path("auth/", include("crm.tenants.accounts.urls")),
    path("settings/", include("crm.tenants.urls")),
    path("billing/", include("crm.billing.urls")),
    path("api/v1/billing/", include("crm.billing.api")),
    path(
        "api/v1/kernel/", include(("crm.kernel.approvals_api", "api-kernel"), namespace="api-kernel")
    ),  # always on  # before api/v1/: that one ends in a catch-all 404
    path("api/v1/", include("crm.api.urls")),
    re_path(r"^api/", api_not_found),  # other /api/ paths (e.g. unknown versions): JSON 404 too
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include(("crm.kernel.urls", "kernel"), namespace="kernel")),  # approvals and notices, always on
]

for _manifest in registry.all():
    if _manifest.urls:
        _prefix = "" if _manifest.always_on else f"{_manifest.slug}/"
        urlpatterns.append(path(_prefix, include((_manifest.urls, _manifest.slug), namespace=_manifest.slug)))

# A database restart answers 503 "try again" (translated), the API its error shape: see views_errors.py.
handler500 = "crm.platform.views_errors.server_error"
