"""View decorators shared by every module."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from crm.platform.errors import NotFound, PermissionDenied
from crm.platform.permissions import has_perm

View = Callable[..., HttpResponseBase]


def require_perm(perm: str) -> Callable[[View], View]:
    """Logged in and holding `perm` (else the login page / 403); a service's NotFound or PermissionDenied
    raised inside the view answers 404 / 403 like Django's own."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_perm(request.user, perm):  # type: ignore[arg-type]
                raise DjangoPermissionDenied
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(str(exc.message)) from exc
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(str(exc.message)) from exc

        # Routes say which permission they need: the generic module suite walks every route as every role
        # (crm.kernel.api.declared_permission reads this).
        wrapped.required_permission = perm  # type: ignore[attr-defined]
        return wrapped

    return decorator
