"""System check: manifests are valid (unique slugs, acyclic depends, prices, namespaced menus)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from crm.platform.registry import registry


@register()
def check_manifests(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(msg, id="crm.E001") for msg in registry.validate()]
