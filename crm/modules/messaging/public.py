"""The names other modules may import from messaging."""

from .models import CareSettings, Channel, EventKind, MessageTemplate, OutboundMessage
from .providers import DeliveryError, Provider
from .services import (
    CONTEXT_NAMES,
    care_settings_get,
    care_settings_update,
    cursor_get,
    cursor_set,
    message_retry_failed,
    message_send,
    template_get,
    template_update,
    templates_ensure,
)
from .views import care_page

__all__ = [
    "CONTEXT_NAMES",
    "CareSettings",
    "Channel",
    "DeliveryError",
    "EventKind",
    "MessageTemplate",
    "OutboundMessage",
    "Provider",
    "care_page",
    "care_settings_get",
    "care_settings_update",
    "cursor_get",
    "cursor_set",
    "message_retry_failed",
    "message_send",
    "template_get",
    "template_update",
    "templates_ensure",
]
