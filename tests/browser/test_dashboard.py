"""The admin index is the dashboard: cards with figures and charts, the 7/30/90-day range, cards by role."""

import datetime as dt

import pytest

from accounts.roles import MERCHANT_STAFF
from commerce.notifications.models import Notification
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory, ProductVariantFactory
from tests.factories import UserFactory
from tests.offers.factories import OfferDailyStatsFactory, OfferFactory

from .conftest import submit

pytestmark = [pytest.mark.browser]

ALL_CARDS = [
    "catalog.products",
    "offers.live",
    "offers.activity",
    "offers.top",
    "accounts.new_shoppers",
    "orders.today",
    "orders.per_day",
    "cashback.review",
    "cashback.withdrawals",
    "cashback.credited",
    "loyalty.tiers",
    "loyalty.points",
    "loyalty.rewards",
    "notifications.dead_letters",
]


@pytest.fixture
def shop(frozen_clock, browser_db):
    """Two merchants' products and offers, offer activity over a month, sign-ups and a dead letter."""
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    mine = MerchantFactory(name="Kettle Corner", slug="kettle-corner")
    theirs = MerchantFactory(name="Teapot Palace", slug="teapot-palace")
    ProductVariantFactory(product__merchant=mine, product__title="Copper Kettle", stock_on_hand=4)
    ProductVariantFactory(product__merchant=mine, product__title="Glass Kettle", stock_on_hand=0)
    ProductVariantFactory(product__merchant=theirs, product__title="Porcelain Teapot", stock_on_hand=9)
    monsoon = OfferFactory(merchant=mine, title="Monsoon Sale")
    OfferFactory(merchant=mine, title="Flash Kettle Deal", ends_at=now + dt.timedelta(days=2))
    tuesday = OfferFactory(merchant=theirs, title="Teapot Tuesday")
    for offer, days_ago, views, clicks in [
        (monsoon, 0, 120, 12),
        (monsoon, 3, 80, 8),
        (monsoon, 20, 200, 30),
        (tuesday, 0, 50, 5),
    ]:
        OfferDailyStatsFactory(offer=offer, date=today - dt.timedelta(days=days_ago), views=views, clicks=clicks)
    UserFactory.create_batch(3)
    UserFactory(date_joined=now - dt.timedelta(days=10))
    Notification.objects.create(
        channel=Notification.Channel.EMAIL,
        recipient="asha@example.com",
        template="welcome",
        subject="Welcome",
        body="Hello",
        status=Notification.Status.FAILED,
        attempts=5,
        last_error="SMTPRecipientsRefused: 450 mailbox unavailable",
    )
    return {"mine": mine}


def card_keys(page):
    return [card.get_attribute("data-dashboard-card") for card in page.locator("[data-dashboard-card]").all()]


def figures(page, key):
    """A card's figures, ``{label: value}`` as shown."""
    shown = page.locator(f"[data-dashboard-card='{key}'] [data-figure]")
    return {figure.get_attribute("data-figure"): figure.inner_text().strip() for figure in shown.all()}


def chart_data(page, key):
    """The datasets Chart.js drew in a card's canvas, ``{label: values}`` (None when no chart was drawn)."""
    canvas = page.locator(f"[data-dashboard-card='{key}'] canvas")
    return canvas.evaluate(
        "el => { const chart = window.Chart && window.Chart.getChart(el);"
        " return chart ? Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data])) : null; }"
    )


def test_the_dashboard_shows_the_cards_figures_and_charts_and_switches_range(page, make_staff, signed_in, shop):
    user, _ = make_staff("ops@example.com", superuser=True)
    signed_in(user)
    page.goto("/admin/")

    assert page.get_by_role("heading", name="Last 30 days").is_visible()
    assert card_keys(page) == ALL_CARDS
    for title in ("Offer views and clicks", "Top offers by clicks", "New shoppers", "Notifications (System)"):
        assert page.get_by_text(title, exact=True).first.is_visible()
    assert figures(page, "catalog.products") == {"Live": "3", "Out of stock": "1"}
    assert figures(page, "offers.live") == {"Live": "3", "Expiring within 7 days": "1"}
    assert figures(page, "offers.activity") == {"Views": "450", "Clicks": "55"}
    assert figures(page, "accounts.new_shoppers") == {"New shoppers, last 30 days": "4"}
    assert figures(page, "notifications.dead_letters") == {"Dead-lettered": "1", "Failed in the last 30 days": "1"}
    activity = chart_data(page, "offers.activity")
    assert (len(activity["Views"]), sum(activity["Views"]), sum(activity["Clicks"])) == (30, 450, 55)

    submit(page, page.get_by_role("link", name="7 days", exact=True))

    assert page.url.endswith("/admin/?days=7")
    assert page.get_by_role("heading", name="Last 7 days").is_visible()
    assert figures(page, "offers.activity") == {"Views": "250", "Clicks": "25"}
    assert figures(page, "accounts.new_shoppers") == {"New shoppers, last 7 days": "3"}
    assert chart_data(page, "offers.activity") == {
        "Views": [0, 0, 0, 80, 0, 0, 170],
        "Clicks": [0, 0, 0, 8, 0, 0, 17],
    }
    assert chart_data(page, "accounts.new_shoppers") == {"New shoppers": [0, 0, 0, 0, 0, 0, 3]}
    top = page.locator("[data-dashboard-card='offers.top']")
    assert top.get_by_text("Monsoon Sale").is_visible()
    assert top.get_by_text("Teapot Tuesday").is_visible()


def test_merchant_staff_see_their_merchants_cards_only(page, make_staff, signed_in, shop):
    user, _ = make_staff("staff@kettle-corner.example.com", roles=(MERCHANT_STAFF,))
    MerchantMembershipFactory(merchant=shop["mine"], user=user)
    signed_in(user)
    page.goto("/admin/")

    assert card_keys(page) == [
        "catalog.products",
        "offers.live",
        "offers.activity",
        "offers.top",
        "orders.today",
        "orders.per_day",
    ]
    assert page.get_by_text("New shoppers", exact=True).count() == 0
    assert figures(page, "catalog.products") == {"Live": "2", "Out of stock": "1"}
    assert figures(page, "offers.live") == {"Live": "2", "Expiring within 7 days": "1"}
    assert figures(page, "offers.activity") == {"Views": "400", "Clicks": "50"}
    top = page.locator("[data-dashboard-card='offers.top']")
    assert top.get_by_text("Monsoon Sale").is_visible()
    assert top.get_by_text("Teapot Tuesday").count() == 0
