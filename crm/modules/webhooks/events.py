"""The catalogue of webhook events: what every registered module declares in `webhook_events`."""

from __future__ import annotations

from crm.platform.registry import registry


def event_choices() -> list[tuple[str, str]]:
    """(name, label in the active language), in registry order, without duplicates."""
    seen: dict[str, str] = {}
    for manifest in registry.all():
        for name, label in manifest.webhook_events:
            seen.setdefault(name, str(label))
    return list(seen.items())


def event_names() -> set[str]:
    return {name for name, _label in event_choices()}
