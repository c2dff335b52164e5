"""API routes of the sales capability, mounted at /api/v1/sales/; each area keeps its own list."""

from crm.modules.sales import (
    api_urls_documents,
    api_urls_margin,
    api_urls_money,
    api_urls_pipeline,
    api_urls_receivables,
)

urlpatterns = [
    *api_urls_pipeline.urlpatterns,
    *api_urls_documents.urlpatterns,
    *api_urls_receivables.urlpatterns,
    *api_urls_money.urlpatterns,
    *api_urls_margin.urlpatterns,
]
