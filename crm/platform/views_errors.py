"""The server-error answer for both URL confs (handler500).

A database that is restarting, failing over or unreachable is not a bug of the request: the answer is
503 with Retry-After, "try again in a moment" (translated), and the API gets its one error shape. Any other
uncaught error is the 500 page (or the API's 500 in the error shape). Rendering must not need the database:
the page is rendered without the request's context processors (they read the user and the session).
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

RETRY_AFTER_SECONDS = 5


def _database_down() -> bool:
    exc = sys.exc_info()[1]
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    down = _database_down()
    status = 503 if down else 500
    if request.path.startswith("/api/"):
        if down:
            code, message = (
                "unavailable",
                _("The service is briefly unavailable; nothing was changed. Retry shortly."),
            )
        else:
            code, message = "server_error", _("Something went wrong on our side and nothing was changed.")
        response: HttpResponse = JsonResponse(
            {"error": {"code": code, "message": message, "fields": {}}}, status=status
        )
    else:
        template = loader.get_template("503.html" if down else "500.html")
        response = HttpResponse(template.render({"request": request}), status=status)
    if down:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
