"""API routes: documents (quotes, contracts and orders, revisions)."""

from django.urls import URLPattern, URLResolver, path

from crm.modules.sales import api_documents as a

urlpatterns: list[URLPattern | URLResolver] = [
    path("quotes/", a.QuoteList.as_view(), name="quote-list"),
    path("quotes/<int:pk>/", a.QuoteDetail.as_view(), name="quote-detail"),
    path("quotes/<int:pk>/transitions/", a.QuoteTransition.as_view(), name="quote-transition"),
    path("quotes/<int:pk>/revise/", a.QuoteRevise.as_view(), name="quote-revise"),
    path("quotes/<int:pk>/convert/", a.QuoteConvert.as_view(), name="quote-convert"),
    path("quotes/<int:pk>/email/", a.QuoteEmail.as_view(), name="quote-email"),
    path("quotes/<int:pk>/pdf/", a.QuotePdf.as_view(), name="quote-pdf"),
    path("contracts/", a.ContractList.as_view(), name="contract-list"),
    path("contracts/export/", a.ContractExport.as_view(), name="contract-export"),
    path("contracts/<int:pk>/", a.ContractDetail.as_view(), name="contract-detail"),
    path("contracts/<int:pk>/transitions/", a.ContractTransition.as_view(), name="contract-transition"),
    path("contracts/<int:pk>/pdf/", a.ContractPdf.as_view(), name="contract-pdf"),
    path("contracts/<int:pk>/revisions/", a.ContractRevisions.as_view(), name="contract-revisions"),
    path("revisions/<int:pk>/", a.RevisionDetail.as_view(), name="contract-revision-detail"),
    path("revisions/<int:pk>/action/", a.RevisionAction.as_view(), name="contract-revision-action"),
]
