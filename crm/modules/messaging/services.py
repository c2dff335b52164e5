"""Messaging writes: templates (seeded with Chinese defaults on first use), care settings, and sending.

`message_send` inserts the OutboundMessage row first and sends second, so the unique idempotency key decides
whether a message goes out: a second run (or a retried task) finds the row already sent and does nothing; a
failed row is retried in place a few times, never duplicated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm
from crm.tenants.accounts.models import User

from .models import CareSettings, Channel, EventKind, MessageTemplate, OutboundMessage
from .providers import DeliveryError, Provider, get_provider

MAX_ATTEMPTS = 3

# Seeded into a tenant's schema the first time a template is needed (tenant data, edited by the tenant; the
# product's default language for members is Chinese, whatever the staff's UI language).
DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    (EventKind.BIRTHDAY, Channel.SMS): ("", "亲爱的{{ name }}，{{ store }}祝您生日快乐！"),
    (EventKind.BIRTHDAY, Channel.EMAIL): (
        "生日快乐，{{ name }}",
        "亲爱的{{ name }}：\n\n{{ store }}全体同仁祝您生日快乐！"
        "您当前为{{ tier }}会员，积分 {{ points }}。\n",
    ),
    (EventKind.TIER_UPGRADE, Channel.SMS): (
        "",
        "恭喜{{ name }}，您已升级为{{ tier }}会员，感谢您对{{ store }}的支持！",
    ),
    (EventKind.TIER_UPGRADE, Channel.EMAIL): (
        "恭喜升级为{{ tier }}会员",
        "亲爱的{{ name }}：\n\n恭喜您升级为{{ tier }}会员，感谢您对{{ store }}的支持！\n",
    ),
    (EventKind.POINTS_EXPIRING, Channel.SMS): (
        "",
        "{{ name }}您好，您有 {{ points }} 积分将于{{ expiry_date }}到期，欢迎到{{ store }}使用。",
    ),
    (EventKind.POINTS_EXPIRING, Channel.EMAIL): (
        "您的积分即将到期",
        "亲爱的{{ name }}：\n\n您有 {{ points }} 积分将于{{ expiry_date }}到期，欢迎到{{ store }}使用。\n",
    ),
    (EventKind.MEMBERSHIP_EXPIRING, Channel.SMS): (
        "",
        "{{ name }}您好，您的{{ tier }}会员资格将于{{ expiry_date }}到期，欢迎到{{ store }}续期。",
    ),
    (EventKind.MEMBERSHIP_EXPIRING, Channel.EMAIL): (
        "您的会员资格即将到期",
        "亲爱的{{ name }}：\n\n您的{{ tier }}会员资格将于{{ expiry_date }}到期，欢迎到{{ store }}续期。\n",
    ),
}

# The only names a template may use; values are plain strings, never model objects, so a template cannot
# reach anything else through attribute lookups.
CONTEXT_NAMES = ("name", "tier", "points", "expiry_date", "store")

# A private engine: no loaders (no {% include %} / {% extends %} of files), no extra tag libraries, no
# autoescape (the output is plain text for SMS and text email).
_ENGINE = Engine(loaders=[], libraries={}, autoescape=False, debug=False)


# {% debug %} would print the context and loaded modules; {% include %}/{% extends %} would read files.
_FORBIDDEN_NODES = (DebugNode, IncludeNode, ExtendsNode)


def _compile(source: str, field: str) -> Any:
    try:
        template = _ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise ServiceError(_("The template is not valid: %(error)s") % {"error": exc}, field=field) from exc
    if template.nodelist.get_nodes_by_type(_FORBIDDEN_NODES):  # type: ignore[arg-type]  # isinstance() tuple
        raise ServiceError(_("This tag is not allowed in care messages."), field=field)
    return template


def render(source: str, context: dict[str, Any]) -> str:
    safe = {name: str(context.get(name, "")) for name in CONTEXT_NAMES}
    return str(_compile(source, "body").render(Context(safe))).strip()


def templates_ensure() -> list[MessageTemplate]:
    """Every (event, channel) template, creating the missing ones from the Chinese defaults."""
    existing = {(t.kind, t.channel): t for t in MessageTemplate.objects.all()}
    missing = [
        MessageTemplate(kind=kind, channel=channel, subject=subject, body=body)
        for (kind, channel), (subject, body) in DEFAULTS.items()
        if (kind, channel) not in existing
    ]
    if missing:
        # Two first uses at once: the unique constraint keeps one row per pair.
        MessageTemplate.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {(t.kind, t.channel): t for t in MessageTemplate.objects.all()}
    return sorted(existing.values(), key=lambda t: (t.kind, t.channel))


def template_get(*, kind: str, channel: str) -> MessageTemplate:
    return {(t.kind, t.channel): t for t in templates_ensure()}[(kind, channel)]


def _require(actor: User, perm: str) -> None:
    check_perm(actor, perm, _("You may not change care messages."))


def template_update(
    *,
    actor: User,
    perm: str,
    kind: str,
    channel: str,
    body: str,
    subject: str = "",
    is_active: bool = True,
) -> MessageTemplate:
    """Change one template; `perm` is the permission of the module that offers the page."""
    _require(actor, perm)
    if (kind, channel) not in DEFAULTS:
        raise ServiceError(_("Unknown event or channel."), field="kind")
    errors: dict[str, list[str]] = {}
    body = body.strip()
    subject = subject.strip()
    if not body:
        errors["body"] = [_("Write the message text.")]
    if channel == Channel.EMAIL and not subject:
        errors["subject"] = [_("An email needs a subject.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    for field, source in (("body", body), ("subject", subject)):
        _compile(source, field)
    template = template_get(kind=kind, channel=channel)
    template.body, template.subject, template.is_active = body, subject[:200], is_active
    template.save(update_fields=["body", "subject", "is_active", "updated_at"])
    return template


def care_settings_get() -> CareSettings:
    settings, _created = CareSettings.objects.get_or_create(pk=1)
    return settings


def care_settings_update(
    *, actor: User, perm: str, points_notice_days: int, membership_notice_days: int
) -> CareSettings:
    _require(actor, perm)
    errors: dict[str, list[str]] = {}
    for field, value in (
        ("points_notice_days", points_notice_days),
        ("membership_notice_days", membership_notice_days),
    ):
        if not 1 <= value <= 365:
            errors[field] = [_("Choose between 1 and 365 days.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    settings = care_settings_get()
    settings.points_notice_days, settings.membership_notice_days = points_notice_days, membership_notice_days
    settings.save(update_fields=["points_notice_days", "membership_notice_days", "updated_at"])
    return settings


def cursor_get(name: str) -> int:
    return int(care_settings_get().cursors.get(name, 0))


def cursor_set(name: str, value: int) -> None:
    with transaction.atomic():
        settings = CareSettings.objects.select_for_update().get(pk=care_settings_get().pk)
        settings.cursors[name] = max(value, int(settings.cursors.get(name, 0)))
        settings.save(update_fields=["cursors", "updated_at"])


def message_send(
    *,
    kind: str,
    channel: str,
    recipient: str,
    idempotency_key: str,
    context: dict[str, Any],
    provider: Provider | None = None,
) -> OutboundMessage | None:
    """Render the tenant's template for (kind, channel) and send it once per `idempotency_key`.

    Returns the message row, or None when the template is switched off (nothing recorded, so switching it
    back on the same day still sends)."""
    template = template_get(kind=kind, channel=channel)
    if not template.is_active:
        return None
    try:
        message, _created = OutboundMessage.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "kind": kind,
                "channel": channel,
                "recipient": recipient,
                "subject": render(template.subject, context) if channel == Channel.EMAIL else "",
                "body": render(template.body, context),
            },
        )
    except IntegrityError:  # a concurrent run inserted it between our lookup and insert
        message = OutboundMessage.objects.get(idempotency_key=idempotency_key)
    return _deliver(message.pk, provider or get_provider())


def message_retry_failed(*, kind: str, since: datetime, provider: Provider | None = None) -> int:
    """Send again the failed messages of `kind` created since `since` that have attempts left (for events
    found by an incremental scan, which will not come across them again). Returns how many were tried."""
    ids = list(
        OutboundMessage.objects.filter(
            kind=kind, status=OutboundMessage.Status.FAILED, attempts__lt=MAX_ATTEMPTS, created_at__gte=since
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        _deliver(pk, provider or get_provider())
    return len(ids)


def _deliver(message_id: int, provider: Provider) -> OutboundMessage | None:
    with transaction.atomic():
        # The row lock makes a concurrent run skip the row instead of sending it a second time.
        message = OutboundMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None:
            return OutboundMessage.objects.get(pk=message_id)
        if message.status == OutboundMessage.Status.SENT or message.attempts >= MAX_ATTEMPTS:
            return message
        message.attempts += 1
        try:
            if message.channel == Channel.SMS:
                message.provider_id = provider.send_sms(message.recipient, message.body)
            else:
                message.provider_id = provider.send_email(message.recipient, message.subject, message.body)
        except DeliveryError as exc:
            message.status, message.error = OutboundMessage.Status.FAILED, str(exc)[:500]
        else:
            message.status, message.error, message.sent_at = OutboundMessage.Status.SENT, "", timezone.now()
        message.save(update_fields=["attempts", "provider_id", "status", "error", "sent_at", "updated_at"])
    return message
