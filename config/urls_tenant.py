"""URLs of a tenant workspace. Module URLs come from the registry, namespaced by module slug, so the
module gate (404 when disabled) and the cross-tenant test see every route without a list kept here."""

from django.urls import include, path
from django.views.i18n import set_language

from crm.platform.registry import registry

urlpatterns = [
    path("auth/", include("crm.tenants.accounts.urls")),
    path("settings/", include("crm.tenants.urls")),
    path("api/v1/", include("crm.api.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
]

for _manifest in registry.all():
    if _manifest.urls:
        _prefix = "" if _manifest.always_on else f"{_manifest.slug}/"
        urlpatterns.append(path(_prefix, include((_manifest.urls, _manifest.slug), namespace=_manifest.slug)))
