"""Affiliate link health: the periodic check (HTTP faked at the transport: no network), staff marking, clicks
going to the fallback while a link is broken, and the admin's actions."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from requests.adapters import BaseAdapter

from accounts.models import AuditEntry
from cashback.tasks.conversions import check_offer_links
from commerce.offers.models import Offer, OfferKind
from commerce.offers.services import links
from commerce.offers.services.events import offer_click_record
from commerce.offers.services.links import offer_link_mark, offers_links_check
from tests.catalog.factories import MerchantFactory
from tests.offers.factories import DealFactory, OfferFactory

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/offers/offer/"


class FakeTransport(BaseAdapter):
    """Answers each URL with a status (or raises an exception) from ``answers``; records every request."""

    def __init__(self, answers: dict[str, int | Exception]):
        super().__init__()
        self.answers = answers
        self.calls: list[tuple[str, str, bool]] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.calls.append((request.method, request.url, stream))
        answer = self.answers[request.url]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, dict):
            answer = answer[request.method]
        response = requests.Response()
        response.status_code = answer
        response.url = request.url
        response.request = request
        response.raw = io.BytesIO(b"")
        return response

    def close(self):
        pass


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def transport(monkeypatch):
    """``transport({url: status | exception | {method: status}})``: the link check's session with this fake."""

    def install(answers):
        fake = FakeTransport(answers)
        session = requests.Session()
        session.mount("https://", fake)
        session.mount("http://", fake)
        monkeypatch.setattr(links, "session", session)
        return fake

    return install


def deal(url: str, **fields) -> Offer:
    return DealFactory(destination_url=url, **fields)


def test_a_working_link_is_recorded_as_checked(transport):
    offer = deal("https://shop.example.com/ok")
    fake = transport({"https://shop.example.com/ok": 200})

    assert offers_links_check() == 1

    offer.refresh_from_db()
    assert (offer.link_checked_at, offer.link_broken_at) == (NOW, None)
    assert fake.calls == [("HEAD", "https://shop.example.com/ok", False)]
    assert not AuditEntry.objects.filter(action="offer.link_marked").exists()


@pytest.mark.parametrize("status", [301, 302, 204])
def test_redirects_and_other_success_codes_are_working(transport, status):
    offer = deal("https://shop.example.com/r")
    transport({"https://shop.example.com/r": status})

    offers_links_check()

    offer.refresh_from_db()
    assert offer.link_broken_at is None


@pytest.mark.parametrize(
    "answer",
    [
        404,
        410,
        500,
        503,
        requests.Timeout("read timed out"),
        requests.ConnectionError("refused"),
        requests.exceptions.SSLError("bad certificate"),
    ],
)
def test_errors_and_unreachable_links_are_broken(transport, answer):
    offer = deal("https://shop.example.com/gone")
    transport({"https://shop.example.com/gone": answer})

    offers_links_check()

    offer.refresh_from_db()
    assert (offer.link_checked_at, offer.link_broken_at) == (NOW, NOW)
    audit = AuditEntry.objects.get(action="offer.link_marked")
    assert (audit.actor, audit.actor_label, audit.target_id) == (None, "link check", str(offer.pk))
    assert (audit.before, audit.after) == ({"broken": False}, {"broken": True, "by": "check"})


def test_head_not_allowed_is_retried_with_a_streamed_get(transport):
    offer = deal("https://shop.example.com/nohead")
    fake = transport({"https://shop.example.com/nohead": {"HEAD": 405, "GET": 200}})

    offers_links_check()

    offer.refresh_from_db()
    assert offer.link_broken_at is None
    assert fake.calls == [
        ("HEAD", "https://shop.example.com/nohead", False),
        ("GET", "https://shop.example.com/nohead", True),
    ]


def test_head_not_allowed_and_get_failing_is_broken(transport):
    offer = deal("https://shop.example.com/nohead")
    transport({"https://shop.example.com/nohead": {"HEAD": 405, "GET": 404}})

    offers_links_check()

    offer.refresh_from_db()
    assert offer.link_broken_at == NOW


def test_the_check_uses_the_configured_timeout(transport, settings, monkeypatch):
    settings.OFFER_LINK_CHECK_TIMEOUT_SECONDS = 3
    deal("https://shop.example.com/slow")
    seen = []
    fake = transport({"https://shop.example.com/slow": 200})
    original = fake.send

    def send(request, **kwargs):
        seen.append(kwargs["timeout"])
        return original(request, **kwargs)

    monkeypatch.setattr(fake, "send", send)
    offers_links_check()
    assert seen == [3]


def test_a_broken_link_that_works_again_is_cleared(transport, frozen):
    offer = deal("https://shop.example.com/flaky")
    transport({"https://shop.example.com/flaky": 500})
    offers_links_check()
    frozen.shift(timedelta(hours=6))
    transport({"https://shop.example.com/flaky": 200})

    offers_links_check()

    offer.refresh_from_db()
    assert (offer.link_checked_at, offer.link_broken_at) == (NOW + timedelta(hours=6), None)
    assert list(
        AuditEntry.objects.filter(action="offer.link_marked").order_by("id").values_list("after", flat=True)
    ) == [
        {"broken": True, "by": "check"},
        {"broken": False, "by": "check"},
    ]


def test_a_link_still_broken_keeps_the_time_it_broke(transport, frozen):
    offer = deal("https://shop.example.com/down")
    transport({"https://shop.example.com/down": 500})
    offers_links_check()
    frozen.shift(timedelta(hours=6))

    offers_links_check()

    offer.refresh_from_db()
    assert (offer.link_checked_at, offer.link_broken_at) == (NOW + timedelta(hours=6), NOW)
    assert AuditEntry.objects.filter(action="offer.link_marked").count() == 1


def test_only_live_deals_and_cashback_offers_with_a_link_are_checked(transport):
    checked_deal = deal("https://shop.example.com/deal")
    checked_cashback = OfferFactory(kind=OfferKind.CASHBACK, code=None, destination_url="https://shop.example.com/cb")
    OfferFactory(destination_url="https://shop.example.com/coupon")  # a coupon
    OfferFactory(kind=OfferKind.CASHBACK, code=None, destination_url="")  # no link of its own
    deal("https://shop.example.com/paused", is_active=False)
    deal("https://shop.example.com/ended", starts_at=NOW - timedelta(days=9), ends_at=NOW - timedelta(days=1))
    fake = transport({"https://shop.example.com/deal": 200, "https://shop.example.com/cb": 200})

    assert offers_links_check() == 2

    assert sorted(url for _, url, _ in fake.calls) == ["https://shop.example.com/cb", "https://shop.example.com/deal"]
    assert set(Offer.objects.filter(link_checked_at=NOW).values_list("pk", flat=True)) == {
        checked_deal.pk,
        checked_cashback.pk,
    }


def test_the_least_recently_checked_go_first_within_the_limit(transport):
    never = deal("https://shop.example.com/never")
    old = deal("https://shop.example.com/old")
    recent = deal("https://shop.example.com/recent")
    Offer.objects.filter(pk=old.pk).update(link_checked_at=NOW - timedelta(days=2))
    Offer.objects.filter(pk=recent.pk).update(link_checked_at=NOW - timedelta(hours=1))
    fake = transport({o.destination_url: 200 for o in (never, old, recent)})

    assert offers_links_check(limit=2) == 2

    assert [url for _, url, _ in fake.calls] == ["https://shop.example.com/never", "https://shop.example.com/old"]


def test_the_task_runs_the_check(transport):
    deal("https://shop.example.com/task")
    transport({"https://shop.example.com/task": 404})

    assert check_offer_links.apply().get() == 1
    assert Offer.objects.get().link_broken_at == NOW


# --- staff marking and clicks ----------------------------------------------------------------------------------


def test_staff_marking_is_audited_once_per_change(django_user_model):
    staff = django_user_model.objects.create_user(email="ops@example.com", password="x", is_staff=True)
    offer = deal("https://shop.example.com/x")

    offer_link_mark(offer_id=offer.pk, broken=True, actor=staff)
    offer_link_mark(offer_id=offer.pk, broken=True, actor=staff)
    marked = offer_link_mark(offer_id=offer.pk, broken=False, actor=staff)

    assert marked.link_broken_at is None
    rows = list(AuditEntry.objects.filter(action="offer.link_marked").order_by("id"))
    assert [(r.actor, r.after) for r in rows] == [
        (staff, {"broken": True, "by": "staff"}),
        (staff, {"broken": False, "by": "staff"}),
    ]


def test_clicks_go_to_the_fallback_while_the_link_is_broken():
    offer = deal("https://shop.example.com/deal?src=us", fallback_url="https://shop.example.com/all-deals")

    offer_link_mark(offer_id=offer.pk, broken=True)
    broken = offer_click_record(offer=Offer.objects.select_related("merchant").get(pk=offer.pk))
    offer_link_mark(offer_id=offer.pk, broken=False)
    working = offer_click_record(offer=Offer.objects.select_related("merchant").get(pk=offer.pk))

    assert broken.url == f"https://shop.example.com/all-deals?click_id={broken.click_id}"
    assert working.url == f"https://shop.example.com/deal?src=us&click_id={working.click_id}"


def test_without_a_fallback_a_broken_link_sends_clicks_to_the_merchants_website():
    merchant = MerchantFactory(website="https://www.threads.example.com")
    offer = deal("https://aff.example.net/t?o=1", merchant=merchant)
    offer_link_mark(offer_id=offer.pk, broken=True)

    click = offer_click_record(offer=Offer.objects.select_related("merchant").get(pk=offer.pk))

    assert click.url == f"https://www.threads.example.com/?click_id={click.click_id}"


def test_without_a_fallback_or_website_a_broken_link_still_leads_somewhere():
    merchant = MerchantFactory(website="")
    offer = deal("https://aff.example.net/t?o=1", merchant=merchant)
    offer_link_mark(offer_id=offer.pk, broken=True)

    click = offer_click_record(offer=Offer.objects.select_related("merchant").get(pk=offer.pk))

    assert click.url == f"https://aff.example.net/t?o=1&click_id={click.click_id}"


def test_the_click_endpoint_follows_the_fallback(api_client):
    offer = deal("https://shop.example.com/deal", fallback_url="https://shop.example.com/fallback")
    offer_link_mark(offer_id=offer.pk, broken=True)

    response = api_client.post(f"/api/v1/offers/{offer.pk}/click")

    assert response.status_code in (200, 201)
    assert response.json()["url"].startswith("https://shop.example.com/fallback?click_id=")


# --- admin -----------------------------------------------------------------------------------------------------


def test_admin_actions_mark_links_through_the_service(client, admin_login, catalog_manager):
    offer = deal("https://shop.example.com/deal")
    admin_login(client, catalog_manager)

    response = client.post(CHANGELIST, {"action": "mark_link_broken", "_selected_action": [offer.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "1 offer link(s) marked broken: clicks go to the fallback."
    ]
    offer.refresh_from_db()
    assert offer.link_broken_at == NOW
    assert AuditEntry.objects.get(action="offer.link_marked").actor == catalog_manager

    response = client.post(CHANGELIST, {"action": "mark_link_working", "_selected_action": [offer.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 offer link(s) marked working."]
    offer.refresh_from_db()
    assert offer.link_broken_at is None


def test_admin_edits_the_fallback_and_shows_the_link_state_read_only(client, admin_login, catalog_manager):
    offer = deal("https://shop.example.com/deal", fallback_url="https://shop.example.com/fallback")
    offer_link_mark(offer_id=offer.pk, broken=True)
    admin_login(client, catalog_manager)

    page = client.get(f"{CHANGELIST}{offer.pk}/change/")

    form = page.context["adminform"].form
    assert "fallback_url" in form.fields
    assert "link_broken_at" not in form.fields
    assert "Broken since 2026-03-02" in page.content.decode()
    assert "clicks go to the fallback URL" in page.content.decode()
