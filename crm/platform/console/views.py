from django.http import HttpRequest, HttpResponse


def tenant_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("console")
