"""/api/v1/ on tenant hosts: platform endpoints plus each module's routes (namespace api-<slug>).

The last pattern answers every other path under /api/v1/ with the API's JSON 404, so clients never get
an HTML page from the API.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter

from crm.api.errors import not_found
from crm.platform.registry import registry
from crm.tenants import api as tenant_api

router = SimpleRouter()
router.register("users", tenant_api.UserViewSet, basename="api-users")
router.register("invitations", tenant_api.InvitationViewSet, basename="api-invitations")
router.register("teams", tenant_api.TeamViewSet, basename="api-teams")
router.register("modules", tenant_api.ModuleViewSet, basename="api-modules")
router.register("api-keys", tenant_api.ApiKeyViewSet, basename="api-keys")

urlpatterns = [
    # Signed-in users and API keys only: the schema describes every module, enabled or not.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api-schema"),
    path(
        "docs/",
        # The split view serves its start-up script as a file: the CSP allows no inline script.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[IsAuthenticated]),
        name="api-docs",
    ),
    path("me/", tenant_api.MeView.as_view(), name="api-me"),
    *router.urls,
]

for _manifest in registry.all():
    if _manifest.api_urls:
        urlpatterns.append(
            path(
                f"{_manifest.slug}/",
                include((_manifest.api_urls, f"api-{_manifest.slug}"), namespace=f"api-{_manifest.slug}"),
            )
        )

urlpatterns.append(re_path(r"^.*$", not_found, name="api-not-found"))
