"""``GET loyalty/leaderboard``: the period's top members, masked, and the caller's place; 400 on an unknown period;
fixed query budgets (none on the Redis path)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from commerce.core import redis_guard
from loyalty.services import leaderboard as lb
from tests.loyalty.test_leaderboard import member, post

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
URL = "/api/v1/loyalty/leaderboard"


@pytest.fixture(autouse=True)
def _frozen():
    redis_guard.reset_state()
    with time_machine.travel(NOW, tick=False):
        yield
    redis_guard.reset_state()


@pytest.fixture
def ranked(db):
    """Priya 300 (reached first), Ravi 300, then twelve members of 10 to 120 points: fourteen on the board."""
    priya, ravi = member("Priya Sharma"), member("Ravi Kumar")
    post(priya, 300, NOW - timedelta(hours=5))
    post(ravi, 300, NOW - timedelta(hours=4))
    last = None
    for n in range(12):
        last = member(f"Member {n} Test")
        post(last, 10 * (n + 1), NOW - timedelta(hours=3))
    return priya, ravi, member("Unranked Person"), last


def client_of(account=None) -> APIClient:
    client = APIClient()
    if account is not None:
        client.force_authenticate(account.user)
    return client


@pytest.mark.parametrize("redis", [pytest.param(True, marks=pytest.mark.redis), False])
def test_the_board_with_the_callers_place(ranked, redis, settings, django_assert_num_queries):
    if not redis:
        settings.REDIS_URL = ""
    else:
        lb.leaderboards_rebuild(now=NOW)
    _, ravi, unranked, _ = ranked
    lb.leaderboard_size()  # the programme's size cached, as after the first request

    with django_assert_num_queries(0 if redis else 1):
        response = client_of(ravi).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == "week"
    assert body["starts_at"] == "2026-12-07T00:00:00Z"
    assert len(body["entries"]) == 10
    assert body["entries"][:3] == [
        {"rank": 1, "name": "Priya S.", "points": 300},
        {"rank": 2, "name": "Ravi K.", "points": 300},
        {"rank": 3, "name": "Member T.", "points": 120},
    ]
    assert body["entries"][-1] == {"rank": 10, "name": "Member T.", "points": 50}
    assert body["me"] == {"rank": 2, "points": 300}

    assert client_of(unranked).get(URL, {"period": "all"}).json()["me"] is None
    anonymous = client_of().get(URL, {"period": "month"}).json()
    assert (anonymous["period"], anonymous["starts_at"], anonymous["me"]) == ("month", "2026-12-01T00:00:00Z", None)
    assert client_of().get(URL, {"period": "all"}).json()["starts_at"] is None


@pytest.mark.django_db
def test_the_callers_place_outside_the_top_ten(ranked, settings):
    settings.REDIS_URL = ""
    *_, lowest = ranked
    body = client_of(lowest).get(URL).json()  # the last one made has 120 points: third
    assert body["me"] == {"rank": 3, "points": 120}
    first = member("Lowest Scorer")
    post(first, 1, NOW - timedelta(hours=1))
    assert client_of(first).get(URL).json()["me"] == {"rank": 15, "points": 1}


@pytest.mark.django_db
def test_the_board_size_is_the_programmes(ranked, settings):
    from loyalty.services.programme import programme_get

    settings.REDIS_URL = ""
    programme = programme_get()
    programme.leaderboard_size = 3
    programme.save()
    assert len(client_of().get(URL).json()["entries"]) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("period", ["year", "", "WEEK", "week ", "\u0000", "w" * 5000, "१"])
def test_an_unknown_period_is_a_400_naming_the_field(period, settings):
    settings.REDIS_URL = ""
    response = client_of().get(URL, {"period": period})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["period"]
