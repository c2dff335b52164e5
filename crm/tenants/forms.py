"""Forms of the workspace settings pages. They only check the shape of the input; the services decide
what is allowed (roles, owner rules, team cycles) and raise ServiceError with per-field messages."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role, tenant_role_choices
from crm.tenants.accounts.models import Team, User

__all__ = ["ApiKeyForm", "InviteForm", "TeamForm", "UserEditForm"]


def role_choices(actor: User) -> list[tuple[str, str]]:
    """Roles the actor may hand out: only an owner can make someone an owner."""
    return [
        (v, str(label)) for v, label in tenant_role_choices() if v != Role.OWNER or actor.role == Role.OWNER
    ]


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("Role"))
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = role_choices(actor)
        self.fields["role"].initial = Role.SALES
        # Evaluated at request time, inside the tenant's schema.
        self.fields["team"].queryset = Team.objects.order_by("name")  # type: ignore[attr-defined]


class UserEditForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, actor: User, subject: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = role_choices(actor)
        if subject.role == Role.OWNER and actor.role != Role.OWNER:
            # An admin sees the owner's role but cannot change it (the service refuses too).
            choices = [(Role.OWNER.value, str(Role.OWNER.label))]
        cast(forms.ChoiceField, self.fields["role"]).choices = choices
        self.fields["team"].queryset = Team.objects.order_by("name")  # type: ignore[attr-defined]


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    manager = forms.ModelChoiceField(label=_("Manager"), queryset=User.objects.none(), required=False)
    parent = forms.ModelChoiceField(label=_("Parent team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        managers = User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.ADMIN, Role.OWNER])
        self.fields["manager"].queryset = managers.order_by("name")  # type: ignore[attr-defined]
        parents = Team.objects.order_by("name")
        if team is not None:
            parents = parents.exclude(pk=team.pk)
        self.fields["parent"].queryset = parents  # type: ignore[attr-defined]


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=100)
    user: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Acts as"),
        queryset=None,  # type: ignore[arg-type]  # set in __init__: this workspace's active users
        required=False,
        help_text=_("The key sees and may change what this colleague may; empty: you."),
    )
    read_only = forms.BooleanField(label=_("Read-only"), required=False)
    modules = forms.MultipleChoiceField(
        label=_("Only these modules"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every module of the workspace."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from crm.platform.registry import registry
        from crm.tenants.accounts.models import User

        super().__init__(*args, **kwargs)
        user_field = self.fields["user"]
        assert isinstance(user_field, forms.ModelChoiceField)
        user_field.queryset = User.objects.filter(is_active=True).exclude(role="operator").order_by("name")
        modules_field = self.fields["modules"]
        assert isinstance(modules_field, forms.MultipleChoiceField)
        modules_field.choices = [(m.slug, str(m.name)) for m in registry.all() if m.api_urls]
