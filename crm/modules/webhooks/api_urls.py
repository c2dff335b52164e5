from django.urls import path

from . import api

urlpatterns = [
    path("endpoints/", api.EndpointList.as_view(), name="endpoint-list"),
    path("endpoints/<int:pk>/", api.EndpointDetail.as_view(), name="endpoint-detail"),
    path("endpoints/<int:pk>/test/", api.EndpointTest.as_view(), name="endpoint-test"),
    path("deliveries/", api.DeliveryList.as_view(), name="delivery-list"),
    path("deliveries/<int:pk>/retry/", api.DeliveryRetry.as_view(), name="delivery-retry"),
]
