"""Manifest of the messaging module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="messaging",
    name=_("Messaging"),
    summary=_("SMS and email care with templates, opt-out and delivery records."),
    kind="capability",
    app_label="messaging",
)
