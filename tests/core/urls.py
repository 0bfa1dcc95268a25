"""A URLconf for the error-shape tests: the real project URLs plus views that raise each kind of error."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts.models import User
from commerce.core.errors import Conflict
from commerce.core.request_id import get_request_id
from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


class AmountSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    email = serializers.EmailField()


class EchoView(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = AmountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"amount": str(serializer.validated_data["amount"])})


class PrivateView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class ForbiddenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise PermissionDenied


class MissingView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Http404


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Conflict("Only 2 left of SKU TSHIRT-M.", code="insufficient_stock")


class ModelRuleView(APIView):
    """A service whose model validation fails: Django's ValidationError must reach the client as a 400."""

    permission_classes = [AllowAny]

    def get(self, request):
        if request.query_params.get("form") == "list":
            raise ValidationError(["The offer must end after it starts."])
        raise ValidationError(
            {"products": ["Not products of Acme: Kettle."], "__all__": ["A cap only applies to percentages."]}
        )


class OncePerMinute(AnonRateThrottle):
    rate = "1/min"
    scope = "test_once"

    def get_rate(self):
        return self.rate


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request):
        return Response({"ok": True})


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("database password is hunter2")


class RequestIdView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"request_id": get_request_id()})


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email"]


class UserListView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = UserSerializer
    queryset = User.objects.order_by("id")


class RoleOnly(BasePermission):
    """A role check (anything beyond AllowAny/IsAuthenticated): the schema must list 403."""

    def has_permission(self, request, view):
        return False


class DeclaredErrorsView(APIView):
    """Schema fixture: errors inferred from the view plus declared ones, for every method and for one."""

    permission_classes = [IsAuthenticated, RoleOnly]
    throttle_classes = [OncePerMinute]
    error_responses = {503: "gateway_unavailable", "post": {409: "insufficient_stock"}}

    @extend_schema(parameters=[OpenApiParameter("q", str)], responses={200: AmountSerializer})
    def get(self, request, pk):
        return Response({})

    @extend_schema(request=AmountSerializer, responses={201: AmountSerializer})
    def post(self, request, pk):
        return Response({}, status=201)


class OpenView(APIView):
    """Schema fixture: no authentication, no throttles, no input: no error responses at all."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses={200: AmountSerializer})
    def get(self, request):
        return Response({})


def plain_django_boom(request):
    raise RuntimeError("not a DRF view")


urlpatterns = [
    path("api/v1/_test/plain-boom", plain_django_boom),
    path("_test/plain-boom", plain_django_boom),
    path("api/v1/_test/echo", EchoView.as_view()),
    path("api/v1/_test/private", PrivateView.as_view()),
    path("api/v1/_test/forbidden", ForbiddenView.as_view()),
    path("api/v1/_test/missing", MissingView.as_view()),
    path("api/v1/_test/conflict", ConflictView.as_view()),
    path("api/v1/_test/model-rule", ModelRuleView.as_view()),
    path("api/v1/_test/throttled", ThrottledView.as_view()),
    path("api/v1/_test/boom", BoomView.as_view()),
    path("api/v1/_test/request-id", RequestIdView.as_view()),
    path("api/v1/_test/users", UserListView.as_view()),
    path("api/v1/_test/declared/<int:pk>", DeclaredErrorsView.as_view()),
    path("api/v1/_test/open", OpenView.as_view()),
    *project_urlpatterns,
]
