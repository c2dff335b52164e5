"""API routes: pipeline (opportunities, stages, forecast)."""

from django.urls import URLPattern, URLResolver, path

from . import api_pipeline as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("opportunities/", api.OpportunityList.as_view(), name="opportunity-list"),
    path("opportunities/<int:pk>/", api.OpportunityDetail.as_view(), name="opportunity-detail"),
    path("opportunities/<int:pk>/move/", api.OpportunityMove.as_view(), name="opportunity-move"),
    path("opportunities/<int:pk>/reopen/", api.OpportunityReopen.as_view(), name="opportunity-reopen"),
    path("stages/", api.StageList.as_view(), name="stage-list"),
    path("forecast/", api.Forecast.as_view(), name="forecast"),
]
