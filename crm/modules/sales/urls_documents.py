"""HTML routes: documents (quotes, contracts and orders, revisions)."""

from django.urls import URLPattern, URLResolver, path

from crm.modules.sales import views_documents as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("documents/lines/", v.document_lines, name="document_lines"),
    path("quotes/", v.quote_list, name="quote_list"),
    path("quotes/new/", v.quote_new, name="quote_new"),
    path("quotes/<int:pk>/", v.quote_detail, name="quote_detail"),
    path("quotes/<int:pk>/edit/", v.quote_edit, name="quote_edit"),
    path("quotes/<int:pk>/action/", v.quote_action, name="quote_action"),
    path("quotes/<int:pk>/revise/", v.quote_revise, name="quote_revise"),
    path("quotes/<int:pk>/convert/", v.quote_convert, name="quote_convert"),
    path("quotes/<int:pk>/pdf/", v.quote_pdf, name="quote_pdf"),
    path("quotes/<int:pk>/email/", v.quote_email, name="quote_email"),
    path("contracts/", v.contract_list, name="contract_list"),
    path("contracts/export/", v.contract_export, name="contract_export"),
    path("contracts/new/", v.contract_new, name="contract_new"),
    path("contracts/<int:pk>/", v.contract_detail, name="contract_detail"),
    path("contracts/<int:pk>/edit/", v.contract_edit, name="contract_edit"),
    path("contracts/<int:pk>/action/", v.contract_action, name="contract_action"),
    path("contracts/<int:pk>/pdf/", v.contract_pdf, name="contract_pdf"),
    path("contracts/<int:pk>/revisions/new/", v.revision_new, name="contract_revision_new"),
    path("revisions/", v.revision_queue, name="contract_revision_queue"),
    path("revisions/<int:pk>/", v.revision_detail, name="contract_revision_detail"),
    path("revisions/<int:pk>/action/", v.revision_action, name="contract_revision_action"),
]
