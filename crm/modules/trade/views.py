"""Trade pages: the owner's overview."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.platform.decorators import require_perm

from . import selectors


@require_perm("trade.dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "trade/dashboard.html", selectors.dashboard_context(request.user))
