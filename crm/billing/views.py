"""Billing pages: the owner's /billing/ on the tenant host, the Stripe webhook and the operator pages on
the public host. Thin: services write, selectors read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.billing import gateway, selectors, services, webhooks
from crm.billing.models import Invoice
from crm.platform.console.views import operator_required
from crm.platform.errors import ServiceError
from crm.platform.permissions import has_perm
from crm.platform.registry import registry


def _abs(request: HttpRequest, name: str) -> str:
    from django.urls import reverse

    return request.build_absolute_uri(reverse(name))


@login_required
@require_GET
def billing_page(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, "billing.view"):  # type: ignore[arg-type]
        raise DjangoPermissionDenied
    tenant = request.tenant  # type: ignore[attr-defined]
    account = services.account_get(tenant=tenant)
    return render(
        request,
        "billing/page.html",
        {
            "account": account,
            "modules": selectors.current_modules(tenant=tenant, today=timezone.localdate()),
            "estimate": services.estimate_current(tenant=tenant),
            "stripe_upcoming": services.stripe_upcoming(tenant=tenant),
            "invoices": selectors.invoices_for(user=request.user, tenant=tenant)[:24],
            "can_manage": has_perm(request.user, "billing.manage"),  # type: ignore[arg-type]
            "stripe_on": gateway.enabled(),
        },
    )


def _run(request: HttpRequest, fn: object) -> HttpResponse:
    try:
        url = fn()  # type: ignore[operator]
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("billing:page")
    if url:
        return redirect(url)
    return redirect("billing:page")


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.checkout_start(
            actor=request.user,
            tenant=request.tenant,  # type: ignore[attr-defined]
            success_url=_abs(request, "billing:returned"),
            cancel_url=_abs(request, "billing:page"),
        ),
    )


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.portal_start(
            actor=request.user,
            tenant=request.tenant,  # type: ignore[attr-defined]
            return_url=_abs(request, "billing:page"),
        ),
    )


@login_required
@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    def do() -> str:
        services.subscription_cancel(actor=request.user, tenant=request.tenant)  # type: ignore[attr-defined]
        messages.success(
            request, _("Your subscription ends at the end of the paid period. Your data is kept.")
        )
        return ""

    return _run(request, do)


@login_required
@require_GET
def returned(request: HttpRequest) -> HttpResponse:
    # The browser coming back proves nothing: the workspace turns active on Stripe's signed webhook.
    messages.info(request, _("Thank you. Your subscription starts as soon as Stripe confirms the payment."))
    return redirect("billing:page")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        webhooks.webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except gateway.BadSignature:
        return HttpResponseBadRequest("bad signature")
    return HttpResponse("ok")


# Same guard as the rest of the console: anonymous -> console login, non-operator -> 403, second factor.
@operator_required
@require_GET
def console_billing(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/console.html", selectors.console_overview(user=request.user))


@operator_required
@require_GET
def console_tenant_invoices(request: HttpRequest, tenant_id: int) -> HttpResponse:
    invoices = selectors.tenant_invoices_for_operator(user=request.user, tenant_id=tenant_id)
    return render(request, "billing/console_invoices.html", {"invoices": invoices, "tenant_id": tenant_id})


@operator_required
@require_POST
def console_mark_paid(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=invoice_id)
    try:
        services.invoice_mark_paid(actor=request.user, invoice=invoice)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Invoice %(number)s marked paid.") % {"number": invoice.number})
    return redirect("billing-console")


class PriceForm(forms.Form):
    module = forms.ChoiceField(label=gettext_lazy("Module"))
    monthly_amount = forms.DecimalField(label=gettext_lazy("Monthly price"), max_digits=12, decimal_places=2)
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, initial="CNY")
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from (first day of a future month)"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].choices = [(m.slug, m.name) for m in registry.sellable()]  # type: ignore[attr-defined]


@operator_required
@require_http_methods(["GET", "POST"])
def console_prices(request: HttpRequest) -> HttpResponse:
    form = PriceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.price_set(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, str(exc.message))
        else:
            messages.success(
                request, _("Price saved. It applies from its start date; current periods keep theirs.")
            )
            return redirect("billing-console-prices")
    return render(request, "billing/console_prices.html", {"form": form, "prices": selectors.price_list()})
