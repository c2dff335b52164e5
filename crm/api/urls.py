"""/api/v1/ on tenant hosts: platform endpoints plus each module's routes (namespace api-<slug>)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm.platform.registry import registry

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

for _manifest in registry.all():
    if _manifest.api_urls:
        urlpatterns.append(
            path(f"{_manifest.slug}/", include((_manifest.api_urls, f"api-{_manifest.slug}"),
                                               namespace=f"api-{_manifest.slug}")))
