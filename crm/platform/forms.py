"""Forms of the public site. Thin: field shapes and widgets here, the rules in crm.tenants.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from crm.platform.modes import SALES_MODES
from crm.platform.registry import ModuleManifest, registry
from crm.tenants.services import modules_for_modes, signup_validate

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$"}


def money_label(amount: Decimal, currency: str) -> str:
    """'¥199' or '¥199.50': whole amounts without decimals, otherwise two places (never a float)."""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    if amount == amount.to_integral_value():
        return f"{symbol}{amount.quantize(Decimal(1))}"
    return f"{symbol}{amount.quantize(Decimal('0.01'))}"


def monthly_price_label(amount: Decimal, currency: str) -> str:
    """'¥199/month' ('¥199/月' in Chinese)."""
    return _("%(price)s/month") % {"price": money_label(amount, currency)}


def module_offer(manifest: ModuleManifest) -> dict[str, Any]:
    """What the pricing page and the signup form show about one sellable module (`available` False: shown
    as coming soon, with its summary, and cannot be chosen)."""
    return {
        "slug": manifest.slug,
        "name": manifest.name,
        "summary": manifest.summary,
        "features": manifest.features,
        "sales_mode": manifest.sales_mode,
        "price": monthly_price_label(manifest.monthly_price, manifest.currency),
        "amount": manifest.monthly_price,
        "depends": [registry.get(d).name for d in manifest.depends if d in registry],
        "available": manifest.available,
    }


class SignupForm(forms.Form):
    """Company, workspace address, owner account, language, and how the company sells."""

    company = forms.CharField(label=gettext_lazy("Company name"), max_length=200)
    slug = forms.CharField(
        label=gettext_lazy("Workspace address"),
        max_length=40,
        help_text=gettext_lazy("Lowercase letters, digits and hyphens; you cannot change it later."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    owner_name = forms.CharField(label=gettext_lazy("Your name"), max_length=100)
    email = forms.EmailField(
        label=gettext_lazy("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        help_text=gettext_lazy("At least 10 characters; not only digits, not a common password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    phone = forms.CharField(
        label=gettext_lazy("Mobile phone (optional)"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    language = forms.ChoiceField(label=gettext_lazy("Workspace language"))
    sales_modes = forms.MultipleChoiceField(
        label=gettext_lazy("How do you sell?"),
        required=False,
        choices=SALES_MODES,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Choose every way your company sells; we pre-select the matching modules."),
    )
    modules = forms.MultipleChoiceField(
        label=gettext_lazy("Modules"), required=False, widget=forms.CheckboxSelectMultiple
    )
    # Set by the page script, which keeps the module boxes in step with the sales modes. Without script
    # (or without touching the module boxes) the modules follow the chosen sales modes.
    modules_touched = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Choices from settings and the registry are read per form, never at import time.
        # Each language is named in itself, so a visitor finds their own whatever the page language is.
        native = {"zh-hans": "简体中文", "en": "English"}
        self.fields["language"].choices = [  # type: ignore[attr-defined]
            (code, native.get(code, str(name))) for code, name in settings.LANGUAGES
        ]
        self.fields["language"].initial = "en" if (get_language() or "").startswith("en") else "zh-hans"
        self.offers = [module_offer(m) for m in registry.sellable()]
        # Only available modules can be chosen; the others are listed as coming soon, without a box.
        self.fields["modules"].choices = [(o["slug"], o["name"]) for o in self.offers if o["available"]]  # type: ignore[attr-defined]

    @property
    def mode_rows(self) -> list[dict[str, Any]]:
        """The sales-mode boxes, each with the module it pre-selects (for the page script). A mode whose
        module is coming soon can still be ticked (it says how the company sells) but pre-selects nothing:
        such a workspace starts with the CRM core."""
        chosen = set(self["sales_modes"].value() or [])
        offer_of = {o["sales_mode"]: o for o in self.offers}
        rows = []
        for code, label in SALES_MODES:
            offer = offer_of.get(code)
            available = offer is None or bool(offer["available"])
            rows.append(
                {
                    "code": code,
                    "label": label,
                    "module": offer["slug"] if offer and available else "",
                    "coming_soon": not available,
                    "summary": offer["summary"] if offer else "",
                    "checked": code in chosen,
                }
            )
        return rows

    @property
    def module_rows(self) -> list[dict[str, Any]]:
        chosen = set(self["modules"].value() or [])
        return [{**o, "checked": o["slug"] in chosen, "cents": int(o["amount"] * 100)} for o in self.offers]

    def chosen_modules(self) -> list[str]:
        """The modules to enable: the ticked module boxes, or those matching the sales modes when the
        module boxes were left alone (no script)."""
        data = self.cleaned_data
        modules = list(data.get("modules") or [])
        if not modules and not data.get("modules_touched"):
            modules = modules_for_modes(list(data.get("sales_modes") or []))
        return modules

    def add_rule_errors(self) -> None:
        """When some fields are malformed, still check the well-formed ones against the signup rules (taken
        address, weak password...), so the visitor sees every problem in one round."""
        data = self.cleaned_data
        problems = signup_validate(
            company=data.get("company", ""),
            slug=data.get("slug", ""),
            owner_name=data.get("owner_name", ""),
            email=data.get("email", ""),
            password=data.get("password", ""),
            phone=data.get("phone", ""),
            modules=list(data.get("modules") or []),
            sales_modes=list(data.get("sales_modes") or []),
            language=data.get("language") or "zh-hans",
        )
        for field, errors in problems.items():
            if field in data:  # malformed fields already carry their own error
                for error in errors:
                    self.add_error(field, error)
