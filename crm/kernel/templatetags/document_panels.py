"""`{% document_panels doc_type document %}`: the enabled modules' panels for a document page (each a card),
rendered with the page's request user (crm.kernel.hooks.document_panels_render)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from crm.kernel import hooks

register = template.Library()


@register.simple_tag(takes_context=True)
def document_panels(context: Any, doc_type: str, document: Any) -> SafeString:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return SafeString("")
    panels = hooks.document_panels_render(doc_type, document, user, request=request)
    return SafeString(render_to_string("kernel/_document_panels.html", {"panels": panels}, request=request))
