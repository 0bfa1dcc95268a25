"""``GET loyalty/achievements``: the shape, earned first, progress labels, badges as absolute URLs, a fixed query
count whatever the caller's history, and sign-in required."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.models import Achievement
from loyalty.services.achievements import achievements_evaluate

pytestmark = pytest.mark.django_db

URL = "/api/v1/loyalty/achievements"


def test_lists_earned_first_with_progress(shopper, shopper_client, paid_order):
    paid_order(placed_at=timezone.now() - timedelta(days=1))
    paid_order(placed_at=timezone.now() - timedelta(days=1))
    (award,) = achievements_evaluate(user_id=shopper.pk)
    response = shopper_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [row["code"] for row in body] == [
        "first-order",
        "explorer-5",
        "five-orders",
        "referrer-3",
        "big-spender",
        "weekly-streak-4",
    ]
    assert body[0] == {
        "code": "first-order",
        "name": "First order",
        "description": "Place and pay for your first order.",
        "badge": None,
        "earned": True,
        "earned_at": award.awarded_at.isoformat().replace("+00:00", "Z"),
        "progress": {"current": "1", "target": "1", "label": "1 / 1 order"},
        "points": 50,
    }
    assert body[2]["progress"] == {"current": "2", "target": "5", "label": "2 / 5 orders"}
    assert (body[2]["earned"], body[2]["earned_at"]) == (False, None)
    assert body[4]["progress"] == {"current": "1996.00", "target": "10000.00", "label": "₹1,996.00 / ₹10,000.00 spent"}


def test_a_badge_is_an_absolute_url(shopper_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    achievement = Achievement.objects.get(code="first-order")
    achievement.badge = SimpleUploadedFile("first.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    achievement.save()
    body = shopper_client.get(URL).json()
    badge = next(row["badge"] for row in body if row["code"] == "first-order")
    assert badge == f"http://testserver{achievement.badge.url}"


@pytest.mark.parametrize("orders", [0, 5])
def test_costs_a_fixed_number_of_queries(shopper, shopper_client, paid_order, orders, django_assert_num_queries):
    for n in range(orders):
        paid_order(placed_at=timezone.now() - timedelta(weeks=2 * n + 1))
    shopper_client.get(URL)  # warms the session-independent caches
    # the achievements, the awards, orders and spend, weeks, categories, referrals
    with django_assert_num_queries(6):
        assert shopper_client.get(URL).status_code == 200


def test_needs_a_signed_in_member():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
