"""`{% if user|has_perm:"workspace.manage_users" %}`: the same role check the views use, for templates."""

from __future__ import annotations

from typing import Any

from django import template

from crm.platform.permissions import has_perm as _has_perm

register = template.Library()


@register.filter
def has_perm(user: Any, perm: str) -> bool:
    # Operators on the public site have no tenant role: the check simply answers False for them.
    return _has_perm(user, perm)
