"""Settings pages of outbound webhooks: endpoints, their secret, recent deliveries with the responses."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.platform.decorators import require_perm
from crm.platform.errors import NotFound, ServiceError, flash_call, show_on_form
from crm.tenants.accounts.models import User

from . import selectors, services
from .events import event_choices
from .forms import EndpointForm

PERM = "webhooks.manage"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_perm(PERM)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(actor=_user(request), **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            return HttpResponseRedirect(reverse("webhooks:endpoint_detail", args=[endpoint.pk]))
    endpoints = selectors.endpoints_visible(_user(request))
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints, "form": form})


@require_perm(PERM)
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = services.endpoint_get(actor=_user(request), pk=pk)
    deliveries = selectors.deliveries_visible(_user(request), endpoint=endpoint)[:50]
    labels = dict(event_choices())
    form = EndpointForm(
        request.POST or None,
        initial={"url": endpoint.url, "description": endpoint.description, "events": endpoint.events},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(actor=_user(request), endpoint=endpoint, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            return HttpResponseRedirect(request.path)
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "deliveries": deliveries,
            "event_labels": [labels.get(e, e) for e in endpoint.events],
            "form": form,
        },
    )


@require_POST
@require_perm(PERM)
def endpoint_action(request: HttpRequest, pk: str, action: str) -> HttpResponse:
    actor = _user(request)
    endpoint = services.endpoint_get(actor=actor, pk=int(pk))
    detail = reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    if action == "test":
        delivery = services.send_test(actor=actor, endpoint=endpoint)
        if delivery.status == "succeeded":
            flash_call(
                request,
                lambda: None,
                _("Test event delivered (HTTP %(code)s).") % {"code": delivery.response_status},
            )
        else:
            reason = delivery.error or f"HTTP {delivery.response_status}"
            flash_call(
                request, lambda: _raise(_("Test event not delivered: %(reason)s") % {"reason": reason})
            )
    elif action in ("enable", "disable"):
        flash_call(
            request,
            lambda: services.endpoint_update(actor=actor, endpoint=endpoint, is_active=action == "enable"),
            _("Endpoint switched on.") if action == "enable" else _("Endpoint switched off."),
        )
    elif action == "rotate":
        flash_call(
            request,
            lambda: services.endpoint_rotate_secret(actor=actor, endpoint=endpoint),
            _("New signing secret made; update your receiver."),
        )
    elif action == "delete":
        if flash_call(
            request, lambda: services.endpoint_delete(actor=actor, endpoint=endpoint), _("Endpoint deleted.")
        ):
            return HttpResponseRedirect(reverse("webhooks:endpoint_list"))
    else:
        raise NotFound(_("Unknown action."))
    return HttpResponseRedirect(detail)


def _raise(message: str) -> None:
    raise ServiceError(message)


@require_POST
@require_perm(PERM)
def delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _user(request)
    delivery = selectors.deliveries_visible(actor).filter(pk=pk).first()
    if delivery is None:
        raise NotFound(_("No such delivery."))
    flash_call(
        request, lambda: services.delivery_retry(actor=actor, delivery=delivery), _("Delivery tried again.")
    )
    return HttpResponseRedirect(reverse("webhooks:endpoint_detail", args=[delivery.endpoint_id]))
