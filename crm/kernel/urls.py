"""Kernel pages, always on (mounted at the workspace root, namespace "kernel")."""

from django.urls import path

from . import views, views_rules

urlpatterns = [
    path("approvals/", views.queue, name="approvals"),
    path("approvals/<int:pk>/decide/", views.decide, name="approval-decide"),
    path("notices/", views.notices, name="notices"),
    # Approval rules settings (generic over the document types of crm/kernel/doc_types.py).
    path("approvals/rules/", views_rules.rule_list, name="approval-rules"),
    path("approvals/rules/new/", views_rules.rule_edit, name="approval-rule-new"),
    path("approvals/rules/preset/", views_rules.rule_preset, name="approval-rule-preset"),
    path("approvals/rules/<int:pk>/", views_rules.rule_edit, name="approval-rule-edit"),
    path("approvals/rules/<int:pk>/toggle/", views_rules.rule_toggle, name="approval-rule-toggle"),
]
