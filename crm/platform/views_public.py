"""Public site: landing, pricing, signup."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from crm.platform.registry import registry


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "platform/public/home.html", {"modules": registry.sellable()})


def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "platform/public/pricing.html", {"modules": registry.sellable()})


def signup(request: HttpRequest) -> HttpResponse:
    return HttpResponse("signup")


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})
