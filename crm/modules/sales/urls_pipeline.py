"""HTML routes: pipeline (opportunities, stages, reports)."""

from django.urls import URLPattern, URLResolver, path

from . import views_pipeline as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("opportunities/", views.opportunity_kanban, name="opportunity_kanban"),
    path("opportunities/list/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/new/", views.opportunity_create, name="opportunity_create"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/move/", views.opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/reopen/", views.opportunity_reopen, name="opportunity_reopen"),
    path("opportunities/<int:pk>/activity/", views.opportunity_activity, name="opportunity_activity"),
    path("opportunities/reports/", views.pipeline_reports, name="pipeline_reports"),
    path("stages/", views.stage_settings, name="stage_settings"),
    path("stages/<int:pk>/", views.stage_edit, name="stage_edit"),
]
