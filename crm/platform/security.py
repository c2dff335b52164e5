"""Security headers on every answer. The Content-Security-Policy allows scripts only from this site's own
static files (htmx, ECharts, the app's scripts: no inline script, no eval), styles from the site (inline
style attributes allowed: templates set widths and colours per element), images and fonts from the site or
data: URIs, and no framing or plugins. No form-action: browsers apply it to the redirect after a POST, and
signup, support sessions and Stripe Checkout all redirect a form to another origin. Development and
production use the same policy (CSP_REPORT_ONLY=1 makes it report-only while a change is tried)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        header = (
            "Content-Security-Policy-Report-Only"
            if getattr(settings, "CSP_REPORT_ONLY", False)
            else "Content-Security-Policy"
        )
        response.headers.setdefault(header, POLICY)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response
