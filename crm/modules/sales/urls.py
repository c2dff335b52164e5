"""HTML routes of the sales capability, mounted at /sales/; each area keeps its own list."""

from crm.modules.sales import urls_documents, urls_margin, urls_money, urls_pipeline, urls_receivables

urlpatterns = [
    *urls_pipeline.urlpatterns,
    *urls_documents.urlpatterns,
    *urls_receivables.urlpatterns,
    *urls_money.urlpatterns,
    *urls_margin.urlpatterns,
]
