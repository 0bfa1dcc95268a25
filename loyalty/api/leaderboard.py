"""``GET loyalty/leaderboard?period=week|month|all``: the top members of the current period (names masked) and
the caller's own place. Public: an anonymous caller gets ``me: null``.

Thin: :func:`loyalty.services.leaderboard.leaderboard_read` decides where it reads. Query budget (asserted in
``tests/loyalty/test_leaderboard_api.py``): none on the Redis path (the board size is cached), one on the
database path (plus one for the programme's size on a cold cache).
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import PERIODS
from ..services.leaderboard import leaderboard_read, leaderboard_size


class LeaderboardEntrySerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    name = serializers.CharField(help_text="First name and the initial of the last (Priya S.), or Member #id.")
    points = serializers.IntegerField(help_text="Qualifying points earned in the period.")


class LeaderboardMeSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    points = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(choices=PERIODS)
    starts_at = serializers.DateTimeField(allow_null=True, help_text="Start of the period; null for all time.")
    entries = LeaderboardEntrySerializer(many=True)
    me = LeaderboardMeSerializer(allow_null=True, help_text="Your place; null when signed out or not ranked.")


class LeaderboardView(APIView):
    """The leaderboard of the current week, month or all time: ranked by qualifying points earned in it, ties by
    who got there first."""

    permission_classes = [AllowAny]
    error_responses = {400: "invalid: unknown period (fields.period: one of week, month, all)."}

    @extend_schema(
        parameters=[
            OpenApiParameter("period", enum=list(PERIODS), required=False, description="Default week."),
        ],
        responses={200: LeaderboardSerializer},
    )
    def get(self, request: Request) -> Response:
        # Validated by the service: anything but week, month or all (an empty value too) is 400 with fields.period.
        period = request.query_params.get("period", "week")
        user = request.user
        board = leaderboard_read(
            period=period,
            user_id=user.pk if user.is_authenticated else None,
            size=leaderboard_size(),
        )
        return Response(LeaderboardSerializer(board).data)
