"""Kernel pages, always on (mounted at the workspace root, namespace "kernel")."""

from django.urls import path

from . import views

urlpatterns = [
    path("approvals/", views.queue, name="approvals"),
    path("approvals/<int:pk>/decide/", views.decide, name="approval-decide"),
    path("notices/", views.notices, name="notices"),
]
