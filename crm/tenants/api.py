"""Platform endpoints of the tenant API (/api/v1/): me, users, invitations, teams, modules, API keys.

Thin: serializers validate shapes, services (crm.tenants.services, crm.tenants.accounts.services) do
every write and raise ServiceError, which crm.api.errors turns into the one error shape.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.permissions import HasPerm
from crm.platform.errors import ServiceError
from crm.platform.permissions import tenant_role_choices
from crm.platform.registry import registry
from crm.tenants import services as tenant_services
from crm.tenants.accounts import selectors as account_selectors
from crm.tenants.accounts import services as account_services
from crm.tenants.accounts.models import ApiKey, Invitation, Team, User
from crm.tenants.selectors import module_states

# Built-in roles plus the modules' roles (the registry is closed before URLconfs import this).
ROLE_CHOICES = tenant_role_choices()


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def teams_for_api() -> QuerySet[Team]:
    # The member count is part of the team resource here; annotated so the list stays one query.
    return account_selectors.team_list().annotate(member_count=Count("members"))


# Serializers


def _language_field(**kwargs: Any) -> serializers.ChoiceField:
    # Blank is "the workspace default"; otherwise one of the shipped languages (as the model's choices).
    return serializers.ChoiceField(choices=list(settings.LANGUAGES), allow_blank=True, **kwargs)


class MeSerializer(serializers.ModelSerializer[User]):
    language = _language_field(required=False)

    class Meta:
        model = User
        fields = ["id", "email", "name", "phone", "role", "team", "language"]
        read_only_fields = ["id", "email", "role", "team"]


class MeUpdateSerializer(serializers.Serializer[User]):
    name = serializers.CharField(max_length=100, required=False)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    language = _language_field(required=False)


class UserSerializer(serializers.ModelSerializer[User]):
    team_name = serializers.CharField(source="team.name", read_only=True, default=None, allow_null=True)
    language = _language_field(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "name",
            "phone",
            "role",
            "team",
            "team_name",
            "language",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class UserUpdateSerializer(serializers.Serializer[User]):
    role = serializers.ChoiceField(choices=ROLE_CHOICES, required=False)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    class Meta:
        model = Invitation
        fields = ["id", "email", "name", "role", "team", "expires_at", "created_at"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer[Invitation]):
    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)


class TeamSerializer(serializers.ModelSerializer[Team]):
    manager_name = serializers.CharField(source="manager.name", read_only=True, default=None, allow_null=True)
    member_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Team
        fields = ["id", "name", "manager", "manager_name", "parent", "member_count", "created_at"]
        read_only_fields = ["id", "manager_name", "member_count", "created_at"]


class ModuleSerializer(serializers.Serializer[dict[str, Any]]):
    slug = serializers.CharField()
    name = serializers.CharField(source="manifest.name")
    summary = serializers.CharField(source="manifest.summary")
    kind = serializers.CharField(source="manifest.kind")
    sellable = serializers.BooleanField(source="manifest.sellable")
    available = serializers.BooleanField(
        source="manifest.available", help_text="False: coming soon; it cannot be enabled and is not billed."
    )
    monthly_price = serializers.DecimalField(source="manifest.monthly_price", max_digits=10, decimal_places=2)
    currency = serializers.CharField(source="manifest.currency")
    depends = serializers.ListField(child=serializers.CharField(), source="manifest.depends")
    chosen = serializers.BooleanField(help_text="Turned on by the workspace.")
    comp = serializers.BooleanField(help_text="Granted free of charge by the platform.")
    effective = serializers.BooleanField(help_text="On, directly or because an enabled module needs it.")
    required_by = serializers.ListField(child=serializers.CharField())


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "read_only",
            "modules",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[ApiKey]):
    name = serializers.CharField(max_length=100)
    user = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="Act as this colleague (default: you)."
    )
    read_only = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]  # a declared field (the metaclass pops it)
    modules = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        max_length=50,
        help_text="Module slugs the key may reach under /api/v1/<slug>/; empty: all.",
    )


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The raw key. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


# Views


class MeView(APIView):
    """The authenticated user's own profile."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(_actor(request)).data)

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer, operation_id="me_partial_update")
    def patch(self, request: Request) -> Response:
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        # PATCH: fields not sent keep their value (the service takes the whole profile).
        values = {"name": actor.name, "phone": actor.phone, "language": actor.language, **data.validated_data}
        user = account_services.profile_update(actor=actor, **values)
        return Response(MeSerializer(user).data)


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[User]):
    """Colleagues of this workspace; changing them needs workspace.manage_users."""

    serializer_class = UserSerializer
    permission_classes = [HasPerm("workspace.manage_users", writes_only=True)]
    queryset = User.objects.none()  # typed for the schema; rows come from get_queryset

    def get_queryset(self) -> QuerySet[User]:
        return account_selectors.user_list()

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        data = UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Only the fields sent change: an omitted team stays as it is (None would mean "no team").
        team = data.validated_data.get("team", account_services.UNSET)
        user = account_services.user_update(
            actor=_actor(request), user=user, role=data.validated_data.get("role"), team=team
        )
        return Response(UserSerializer(user).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        user = account_services.user_set_active(actor=_actor(request), user=self.get_object(), active=False)
        return Response(UserSerializer(user).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        user = account_services.user_set_active(actor=_actor(request), user=self.get_object(), active=True)
        return Response(UserSerializer(user).data)


class InvitationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Invitation]):
    """Pending invitations; inviting sends the link by email (it is never returned by the API)."""

    serializer_class = InvitationSerializer
    permission_classes = [HasPerm("workspace.manage_users")]
    queryset = Invitation.objects.none()

    def get_queryset(self) -> QuerySet[Invitation]:
        return account_selectors.invitation_pending_list()

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request: Request) -> Response:
        from crm.tenants.services import tenant_url

        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _raw = account_services.invitation_create(
            actor=_actor(request),
            base_url=tenant_url(request.tenant),  # type: ignore[attr-defined]
            **data.validated_data,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        account_services.invitation_revoke(actor=_actor(request), invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Team]):
    """Teams with a manager; reading is open to colleagues, changes need workspace.manage_users."""

    serializer_class = TeamSerializer
    permission_classes = [HasPerm("workspace.manage_users", writes_only=True)]
    queryset = Team.objects.none()

    def get_queryset(self) -> QuerySet[Team]:
        return teams_for_api()

    def _save(self, request: Request, team: Team | None, partial: bool) -> Team:
        data = TeamSerializer(team, data=request.data, partial=partial)
        # A same-named team is reported by the service (with the field), not by the model's unique check.
        data.fields["name"].validators = []
        data.is_valid(raise_exception=True)
        values = {
            "name": getattr(team, "name", ""),
            "manager": getattr(team, "manager", None),
            "parent": getattr(team, "parent", None),
            **data.validated_data,
        }
        saved = account_services.team_save(actor=_actor(request), team=team, **values)
        return self.get_queryset().get(pk=saved.pk)

    @extend_schema(request=TeamSerializer, responses={201: TeamSerializer})
    def create(self, request: Request) -> Response:
        team = self._save(request, None, partial=False)
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TeamSerializer, responses=TeamSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return Response(TeamSerializer(self._save(request, self.get_object(), partial=True)).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        account_services.team_delete(actor=_actor(request), team=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


SLUG_PARAM = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="Module slug.")


@extend_schema_view(
    enable=extend_schema(parameters=[SLUG_PARAM], request=None, responses=ModuleSerializer),
    disable=extend_schema(parameters=[SLUG_PARAM], request=None, responses=ModuleSerializer),
)
class ModuleViewSet(viewsets.GenericViewSet[Any]):
    """Every module with its state for this workspace; turning one on or off changes the bill."""

    serializer_class = ModuleSerializer
    permission_classes = [HasPerm("workspace.manage_modules", writes_only=True)]
    lookup_field = "slug"
    lookup_value_regex = r"[a-z0-9_-]+"

    def list(self, request: Request) -> Response:
        states = module_states(request.tenant)  # type: ignore[attr-defined]  # set by django-tenants
        page = self.paginate_queryset(states)  # type: ignore[arg-type]
        data = ModuleSerializer(page, many=True).data  # type: ignore[arg-type]
        return self.get_paginated_response(data)

    def _toggle(self, request: Request, slug: str, enabled: bool) -> Response:
        if slug not in registry or registry.get(slug).always_on:
            raise NotFound(_("Unknown module."))
        tenant = request.tenant  # type: ignore[attr-defined]
        tenant_services.module_set_enabled(
            tenant=tenant, module=slug, enabled=enabled, actor_email=_actor(request).email
        )
        state = next(s for s in module_states(tenant) if s["slug"] == slug)
        return Response(ModuleSerializer(state).data)

    @action(detail=True, methods=["post"])
    def enable(self, request: Request, slug: str) -> Response:
        return self._toggle(request, slug, True)

    @action(detail=True, methods=["post"])
    def disable(self, request: Request, slug: str) -> Response:
        return self._toggle(request, slug, False)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ApiKey]):
    """The workspace's API keys (owner only). A key acts as its user (the creator, or the colleague chosen),
    with that user's role and data scope; it may be read-only or limited to some modules."""

    serializer_class = ApiKeySerializer
    permission_classes = [HasPerm("workspace.manage_api_keys")]
    queryset = ApiKey.objects.none()

    def get_queryset(self) -> QuerySet[ApiKey]:
        return account_selectors.api_key_list()

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        user = None
        if "user" in values:
            user = account_selectors.user_list().filter(pk=values.pop("user")).first()
            if user is None:
                raise ServiceError(_("Choose an active colleague of this workspace."), field="user")
        key, raw = account_services.api_key_create(actor=_actor(request), user=user, **values)
        key.key = raw  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = self.get_object()
        account_services.api_key_revoke(actor=_actor(request), key=key)
        return Response(ApiKeySerializer(key).data)
