from django.urls import path

from .views import HealthView, QueueHealthView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("health/redis", QueueHealthView.as_view(), name="health-redis"),
]
