from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@extend_schema(responses=inline_serializer("DummyPong", {"dummy": serializers.CharField()}))
@api_view(["GET"])
def ping(request: Request) -> Response:
    return Response({"dummy": "pong"})


urlpatterns = [path("ping/", ping, name="ping")]
