"""Numbers and dates the Chinese way, for every template: `{% load crm_format %}`.

- `{{ amount|money }}`: ¥12,345.00 (thousands separators, 2 decimals, in both languages).
- `{{ n|wan }}`: big numbers short: 12.3万 / 1.2亿 in Chinese, 12.3k / 1.2M in English; small ones as is.
- `{{ day|smartdate }}`: 3月5日 / Mar 5 this year, 2025年3月5日 / Mar 5, 2025 otherwise.
- `{{ when|ago }}`: 3 天前 / 3 days ago (up to 30 days, then the smartdate).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

register = template.Library()


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _zh() -> bool:
    return (get_language() or "").lower().startswith("zh")


@register.filter
def money(value: Any) -> str:
    from crm.kernel.money import Money

    number = _number(value)
    if number is None or not number.is_finite():
        return ""
    return str(Money(number))  # the one spelling of money: ¥1,234.50, -¥5.00


@register.filter
def wan(value: Any) -> str:
    number = _number(value)
    if number is None:
        return ""
    size = abs(number)
    if _zh():
        if size >= 100_000_000:
            return f"{number / 100_000_000:.2f}".rstrip("0").rstrip(".") + "亿"
        if size >= 10_000:
            return f"{number / 10_000:.1f}".rstrip("0").rstrip(".") + "万"
    else:
        if size >= 1_000_000:
            return f"{number / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
        if size >= 10_000:
            return f"{number / 1_000:.1f}".rstrip("0").rstrip(".") + "k"
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    return None


@register.filter
def smartdate(value: Any) -> str:
    day = _as_date(value)
    if day is None:
        return ""
    this_year = day.year == timezone.localdate().year
    if _zh():
        return date_format(day, "n月j日" if this_year else "Y年n月j日")
    return date_format(day, "M j" if this_year else "M j, Y")


@register.filter
def ago(value: Any) -> str:
    if not isinstance(value, datetime):
        return smartdate(value)
    now = timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    seconds = int((now - value).total_seconds())
    if seconds < 0:
        return smartdate(value)
    if seconds < 60:
        return _("just now")
    minutes = seconds // 60
    if minutes < 60:
        return ngettext("%(n)d minute ago", "%(n)d minutes ago", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 24:
        return ngettext("%(n)d hour ago", "%(n)d hours ago", hours) % {"n": hours}
    days = hours // 24
    if days <= 30:
        return ngettext("%(n)d day ago", "%(n)d days ago", days) % {"n": days}
    return smartdate(value)


@register.filter
def module_name(slug: str) -> str:
    """A module's display name for its slug (history rows of a removed module keep the slug)."""
    from crm.platform.registry import registry

    return registry.name_of(str(slug))


@register.filter
def actor_kind(kind: str) -> str:
    return {"user": _("workspace user"), "operator": _("operator"), "system": _("system")}.get(
        str(kind), str(kind)
    )


@register.filter
def to_json(value: Any) -> str:
    """Chart data for a data- attribute (`data-chart-json="{{ chart|to_json }}"`; autoescaping quotes it):
    no <script> block, not even a JSON one, so the page passes the Content-Security-Policy checks."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
