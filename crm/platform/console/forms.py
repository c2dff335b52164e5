"""Console forms: they only shape input; the rules live in console.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    # Named "username" because django-axes reads the account being locked from this field.
    username = forms.EmailField(label=_("Email"))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason (shown in the audit trail)"), max_length=200)


class CompForm(forms.Form):
    module = forms.ChoiceField(label=_("Module"))
    comp = forms.TypedChoiceField(
        label=_("Action"), choices=[("1", _("Grant")), ("0", _("Withdraw"))], coerce=lambda v: v == "1"
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args: object, module_choices: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["module"].choices = module_choices  # type: ignore[attr-defined]


class ImpersonateForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
