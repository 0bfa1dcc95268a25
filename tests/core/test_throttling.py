from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from commerce.core.api.throttling import AnonThrottle, UserThrottle


def make_request(user=None, ip="198.51.100.7"):
    return SimpleNamespace(user=user or AnonymousUser(), META={"REMOTE_ADDR": ip}, headers={})


class FrozenAnon(AnonThrottle):
    rate = "3/min"
    now_value = 1_000_020.0

    def get_rate(self):
        return self.rate

    def timer(self):
        return self.now_value


def test_anon_throttle_counts_per_ip_within_a_window():
    throttle = FrozenAnon()
    results = [throttle.allow_request(make_request(), None) for _ in range(4)]
    assert results == [True, True, True, False]
    # 1_000_020 is 1_000_020 // 60 = 16667 windows in: the window ends at 16668 * 60 = 1_000_080.
    assert throttle.wait() == 60.0
    assert FrozenAnon().allow_request(make_request(ip="198.51.100.8"), None) is True


def test_anon_throttle_resets_in_the_next_window():
    throttle = FrozenAnon()
    for _ in range(3):
        throttle.allow_request(make_request(), None)
    later = FrozenAnon()
    later.now_value = 1_000_080.0
    assert later.allow_request(make_request(), None) is True


def test_anon_throttle_ignores_signed_in_users_and_user_throttle_ignores_anonymous():
    user = SimpleNamespace(is_authenticated=True, pk=7)
    assert AnonThrottle().ident_for(make_request(user=user)) is None
    assert UserThrottle().ident_for(make_request()) is None
    assert UserThrottle().ident_for(make_request(user=user)) == "7"


@pytest.mark.django_db
def test_default_throttles_answer_429_with_retry_after(api_client, monkeypatch):
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {**AnonThrottle.THROTTLE_RATES, "anon": "2/min"})
    cache.clear()
    statuses = [api_client.get("/api/v1/categories").status_code for _ in range(3)]
    response = api_client.get("/api/v1/categories")
    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 61
