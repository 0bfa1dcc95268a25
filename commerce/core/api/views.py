"""Health endpoints: public, cheap and never throttled, so probes and load balancers can call them freely."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.core.health import HEALTHY, queue_health, service_health

# One body for healthy (200) and unhealthy (503) answers alike; the schema documents both statuses.
HEALTH_BODY = inline_serializer(
    "Health",
    {
        "status": serializers.CharField(),
        "database": serializers.CharField(),
        "cache": serializers.CharField(),
        "version": serializers.CharField(),
    },
)
QUEUE_HEALTH_BODY = inline_serializer(
    "QueueHealth",
    {
        "status": serializers.CharField(),
        "redis": serializers.CharField(),
        "queues": serializers.DictField(child=serializers.IntegerField(), required=False),
    },
)


class HealthView(APIView):
    """Liveness and readiness: 200 when the database and cache answer, 503 naming the part that does not."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(responses={200: HEALTH_BODY, 503: HEALTH_BODY})
    def get(self, request: Request) -> Response:
        body = service_health()
        return Response(body, status=200 if body["status"] == HEALTHY else 503)


class QueueHealthView(APIView):
    """Redis connectivity and the number of messages waiting in each Celery queue; 503 when Redis is down."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(responses={200: QUEUE_HEALTH_BODY, 503: QUEUE_HEALTH_BODY})
    def get(self, request: Request) -> Response:
        body = queue_health()
        return Response(body, status=200 if body["status"] == HEALTHY else 503)
