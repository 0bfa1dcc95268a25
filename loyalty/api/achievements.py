"""``GET loyalty/achievements``: every active achievement with the caller's progress, earned ones first (newest
award first), then the rest in catalogue order.

Not paginated: the catalogue is a short list kept by staff, and "earned first" orders the whole of it. Query
budget (asserted in ``tests/loyalty/test_achievements_api.py``): the achievements, the caller's awards and one
query per criterion in use, whatever the caller's history; a GET writes nothing.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..services.achievements import achievements_progress


class AchievementProgressSerializer(serializers.Serializer[Any]):
    current = serializers.CharField(
        help_text="Where the caller is, as a decimal string: a whole number for counts, two places for spend."
    )
    target = serializers.CharField(help_text="What completes the achievement, in the same form.")
    # A field called "label" shadows Field.label in the stubs only; DRF declares it like any other field.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text='For display: "3 / 5 orders", "₹2,500.00 / ₹10,000.00 spent".'
    )


class AchievementSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    badge = serializers.CharField(allow_null=True, help_text="The badge image's absolute URL, or null.")
    earned = serializers.BooleanField()
    earned_at = serializers.DateTimeField(allow_null=True)
    progress = AchievementProgressSerializer()
    points = serializers.IntegerField(help_text="Points the achievement grants (0: none).")


class AchievementListView(APIView):
    """Your achievements: earned and in progress, with progress."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=AchievementSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = achievements_progress(user_id=signed_in(request).pk)
        for row in rows:
            if row["badge"]:
                row["badge"] = request.build_absolute_uri(row["badge"])
        return Response(AchievementSerializer(rows, many=True).data)
