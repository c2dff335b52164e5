"""API routes: gross margin report."""

from django.urls import URLPattern, URLResolver, path

from . import api_margin as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("margin/", api.Margin.as_view(), name="margin"),
]
