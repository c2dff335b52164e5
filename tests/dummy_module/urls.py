from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("dummy module page")


urlpatterns = [path("", index, name="index")]
