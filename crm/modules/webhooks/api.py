"""REST API of outbound webhooks (/api/v1/webhooks/): endpoints and their deliveries, owners and admins."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel.api import HasPerm
from crm.platform.errors import NotFound
from crm.tenants.accounts.models import User

from . import selectors, services
from .models import Delivery, Endpoint

PERM = "webhooks.manage"


def _actor(request: Request) -> User:
    return request.user  # type: ignore[return-value]


CanManage = HasPerm(PERM)


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "secret",
            "is_active",
            "consecutive_failures",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    events = serializers.ListField(child=serializers.CharField(max_length=80), max_length=100)


class EndpointPatchSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.CharField(max_length=80), max_length=100, required=False)
    is_active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "response_status",
            "response_body",
            "error",
            "duration_ms",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class EndpointList(generics.ListCreateAPIView):
    """Webhook endpoints of this workspace; POST registers one (the response carries its signing secret)."""

    permission_classes = [IsAuthenticated, CanManage]
    serializer_class = EndpointSerializer

    def get_queryset(self) -> QuerySet[Endpoint]:
        return selectors.endpoints_visible(_actor(self.request)).order_by("-created_at", "-id")

    @extend_schema(request=EndpointInputSerializer, responses={201: EndpointSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=_actor(request), **data.validated_data)
        return Response(EndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetail(APIView):
    permission_classes = [IsAuthenticated, CanManage]

    def _get(self, request: Request, pk: int) -> Endpoint:
        return services.endpoint_get(actor=_actor(request), pk=pk)

    @extend_schema(responses=EndpointSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(EndpointSerializer(self._get(request, pk)).data)

    @extend_schema(request=EndpointPatchSerializer, responses=EndpointSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self._get(request, pk)
        data = EndpointPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(actor=_actor(request), endpoint=endpoint, **data.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.endpoint_delete(actor=_actor(request), endpoint=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointTest(APIView):
    """Send a `ping` event to this endpoint now; answers the delivery with the endpoint's response."""

    permission_classes = [IsAuthenticated, CanManage]

    @extend_schema(request=None, responses=DeliverySerializer)
    def post(self, request: Request, pk: int) -> Response:
        endpoint = services.endpoint_get(actor=_actor(request), pk=pk)
        return Response(DeliverySerializer(services.send_test(actor=_actor(request), endpoint=endpoint)).data)


class DeliveryList(generics.ListAPIView):
    """Deliveries, newest first; `?endpoint=<id>` narrows to one endpoint, `?status=` to one status."""

    permission_classes = [IsAuthenticated, CanManage]
    serializer_class = DeliverySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", int, required=False),
            OpenApiParameter("status", str, required=False, enum=["pending", "succeeded", "failed"]),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Delivery]:
        params = _Filters(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.deliveries_visible(_actor(self.request))
        if params.validated_data.get("endpoint"):
            qs = qs.filter(endpoint_id=params.validated_data["endpoint"])
        if params.validated_data.get("status"):
            qs = qs.filter(status=params.validated_data["status"])
        return qs.order_by("-created_at", "-id")


class _Filters(serializers.Serializer):
    endpoint = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"], required=False)


class DeliveryRetry(APIView):
    permission_classes = [IsAuthenticated, CanManage]

    @extend_schema(request=None, responses=DeliverySerializer)
    def post(self, request: Request, pk: int) -> Response:
        delivery = selectors.deliveries_visible(_actor(request)).filter(pk=pk).first()
        if delivery is None:
            raise NotFound(_("No such delivery."))
        return Response(
            DeliverySerializer(services.delivery_retry(actor=_actor(request), delivery=delivery)).data
        )
