"""The names other modules may import from messaging."""

from .models import Channel, EventKind, OutboundMessage
from .providers import DeliveryError, Provider
from .services import care_settings_get, cursor_get, cursor_set, message_retry_failed, message_send
from .views import care_page

__all__ = [
    "Channel",
    "DeliveryError",
    "EventKind",
    "OutboundMessage",
    "Provider",
    "care_page",
    "care_settings_get",
    "cursor_get",
    "cursor_set",
    "message_retry_failed",
    "message_send",
]
