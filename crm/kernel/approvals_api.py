"""/api/v1/kernel/ (always on): the signed-in user's approval queue and their decisions.

GET  approvals/                   the pending steps waiting for the user (paginated)
POST approvals/<id>/approve/      {comment}
POST approvals/<id>/reject/       {comment} (required)
Errors use the API's shape {"error": {code, message, fields}}.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.kernel import approvals
from crm.kernel.models import ApprovalRequest


class ApprovalRequestSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    requested_by = serializers.CharField(source="requested_by.name")
    document_owner = serializers.CharField(source="document_owner.name")

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "doc_type",
            "number",
            "rule",
            "status",
            "current_step",
            "amount",
            "currency",
            "requested_by",
            "document_owner",
            "created_at",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ApprovalQueue(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ApprovalRequestSerializer

    def get_queryset(self) -> Any:
        return approvals.approval_queue(self.request.user)


class _Decide(APIView):
    permission_classes = [IsAuthenticated]
    approve = True

    @extend_schema(request=DecisionSerializer, responses={200: ApprovalRequestSerializer})
    def post(self, request: Request, pk: int) -> Response:
        ser = DecisionSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        req = approvals.approval_get_for_decision(user=request.user, pk=pk)
        req = approvals.approval_decide(
            actor=request.user, request=req, approve=self.approve, comment=ser.validated_data["comment"]
        )
        return Response(ApprovalRequestSerializer(req).data)


class ApprovalApprove(_Decide):
    approve = True


class ApprovalReject(_Decide):
    approve = False


urlpatterns = [
    path("approvals/", ApprovalQueue.as_view(), name="approvals"),
    path("approvals/<int:pk>/approve/", ApprovalApprove.as_view(), name="approval-approve"),
    path("approvals/<int:pk>/reject/", ApprovalReject.as_view(), name="approval-reject"),
]
