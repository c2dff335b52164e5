"""Context callables of the dummy module's customer panel and dashboard widget (each queries its own data)."""

from typing import Any

from .models import DummyNote


def panel_context(customer: Any, user: Any) -> dict[str, Any]:
    return {"notes": list(DummyNote.objects.filter(customer=customer).values_list("text", flat=True))}


def widget_context(user: Any) -> dict[str, Any]:
    return {"open_notes": DummyNote.objects.filter(owner=user, done=False).count()}


def open_notes(qs: Any) -> Any:
    """An open filter given as a dotted callable (the link in the manifest uses a dict)."""
    return qs.filter(done=False).exclude(text="archived")
