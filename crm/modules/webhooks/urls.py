from django.urls import path, re_path

from . import views

# The module is always on: its pages sit at the workspace root under webhooks/.
urlpatterns = [
    path("webhooks/", views.endpoint_list, name="endpoint_list"),
    path("webhooks/<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    re_path(
        r"^webhooks/(?P<pk>[0-9]+)/(?P<action>test|enable|disable|rotate|delete)/$",
        views.endpoint_action,
        name="endpoint_action",
    ),
    path("webhooks/deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
]
