from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def ping(request: Request) -> Response:
    return Response({"dummy": "pong"})


urlpatterns = [path("ping/", ping, name="ping")]
