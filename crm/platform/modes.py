"""The seven ways an SMB sells (seed 000:L155), offered at signup; each maps to one sellable module."""

from django.utils.translation import gettext_lazy as _

SALES_MODES = [
    ("project", _("Project-based (e.g. system integration, fit-out)")),
    ("service", _("Service-based (consulting, technical services)")),
    ("trade", _("Trading (buy in, sell out; agency, resale)")),
    ("production", _("Production (make to stock or to order)")),
    ("retail", _("Stores and members (retail, membership)")),
    ("volume", _("High volume (many small orders a day)")),
    ("distribution", _("Through agents and distributors")),
]
