"""The quick "log a visit" sheet of the app shell (opened from the phone's tab bar on every page).

Three htmx fragments: the customer picker (the user's visible customers, searched like the header search),
the short form for the picked customer, and the result. Logging goes through `services.activity_create`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import Activity

PICKER_SIZE = 6
# One tap fills the result: what a rep writes most often after a visit or a call.
QUICK_RESULTS = (
    gettext_lazy("Visited, needs discussed"),
    gettext_lazy("Sent a quote"),
    gettext_lazy("Follow up next week"),
    gettext_lazy("Not reached, try again"),
)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_perm("core.view_customers")
def quick_log(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        customer = selectors.customer_get(user, int(request.POST.get("customer", "0") or 0))
        kind = request.POST.get("kind", Activity.Kind.VISIT)
        # A tapped result chip wins; otherwise the free text.
        result = (request.POST.get("result", "") or request.POST.get("result_text", "")).strip()
        try:
            activity = services.activity_create(actor=user, customer=customer, kind=kind, result=result)
        except ServiceError as exc:
            return render(
                request,
                "core/quick/_form.html",
                {
                    "customer": customer,
                    "kinds": Activity.Kind.choices,
                    "kind": kind,
                    "result": result,
                    "quick_results": QUICK_RESULTS,
                    "error": exc.message,
                },
                status=400,
            )
        return render(request, "core/quick/_done.html", {"customer": customer, "activity": activity})
    pk = request.GET.get("customer", "")
    if pk.isdigit():
        customer = selectors.customer_get(user, int(pk))
        return render(
            request,
            "core/quick/_form.html",
            {
                "customer": customer,
                "kinds": Activity.Kind.choices,
                "kind": Activity.Kind.VISIT,
                "result": "",
                "quick_results": QUICK_RESULTS,
            },
        )
    q = request.GET.get("q", "").strip()
    customers = list(selectors.customer_list(user, selectors.CustomerFilters(q=q))[:PICKER_SIZE])
    template = "core/quick/_results.html" if "q" in request.GET else "core/quick/_picker.html"
    return render(request, template, {"q": q, "customers": customers, "title": _("Log a visit")})
