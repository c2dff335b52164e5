"""HTML routes: gross margin report."""

from django.urls import URLPattern, URLResolver, path

from . import views_margin as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("margin/", v.margin, name="margin"),
]
