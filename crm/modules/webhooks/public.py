"""What other modules may use: `emit(event, data=...)` inside the transaction of the change, for an event
their manifest declares in `webhook_events`."""

from __future__ import annotations

from typing import Any

from .events import event_choices, event_names

__all__ = ["emit", "event_choices", "event_names"]


def emit(event: str, *, data: dict[str, Any]) -> list[int]:
    from .services import emit as _emit

    return _emit(event, data=data)
