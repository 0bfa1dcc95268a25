"""The back-office dashboard: the admin index as KPI cards and charts, filled by the apps through a registry.

commerce.core sits at the bottom of the layers and knows no app, so every app adds its own cards from its
``AppConfig.ready`` (later apps, such as orders, payments, cashback and loyalty, do the same)::

    # commerce/offers/apps.py
    def ready(self) -> None:
        from . import dashboard

        dashboard.register()

    # commerce/offers/dashboard.py
    from commerce.core.dashboard import CardContext, CardData, Figure, register_card

    def live_offers(ctx: CardContext) -> CardData:
        offers = Offer.objects.all()
        if ctx.scope is not None:                       # a merchant-scoped user: their merchants only
            offers = offers.filter(merchant_id__in=ctx.scope)
        return CardData(figures=(Figure(label="Live", value=offers.live(at=ctx.now).count()),))

    def register() -> None:
        register_card(key="offers.live", title="Offers", order=200, builder=live_offers,
                      permission="offers.view_offer", link="admin:offers_offer_changelist")

**A builder** receives a :class:`CardContext`: the *scope* (``None`` for every merchant, else the ids of the
merchants the user is limited to), the *period* (the last 7, 30 or 90 days, today included, in ``TIME_ZONE``
dates) and *now*. It returns a :class:`CardData` of plain figures, an optional chart and an optional table. It
must honour the scope and run a fixed, small number of aggregated queries on indexed columns, whatever the data
(tests assert the count). Cards whose figures cannot be limited to a merchant (new shoppers, dead letters)
register with ``platform_wide=True`` and are never shown to a merchant-scoped user.

**Who sees what.** A card is shown when the user holds its ``permission`` (view permission on the card's model)
and, for a ``platform_wide`` card, is not merchant-scoped. The scope comes from the *scope resolver* that the
catalog registers (``merchant_ids_for_user``) with :func:`register_scope_resolver`; without one, the scope is
everything.

**Caching.** A card's data is cached in the default cache for :data:`CACHE_SECONDS` per (card, scope, range, day),
so a reload within the minute runs no card query; figures may lag by up to a minute. The default cache degrades
to a miss while Redis is down, so the dashboard is then computed on every request but still served. Bump
:data:`CACHE_VERSION` when the shape of :class:`CardData` changes.

**Range.** ``?days=`` picks 7, 30 or 90 days; anything else (missing, ``abc``, ``5``) means 30 (:func:`parse_days`).
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

DAY_CHOICES: tuple[int, ...] = (7, 30, 90)
DEFAULT_DAYS = 30
CACHE_SECONDS = 60
CACHE_VERSION = 1
# Scope tokens longer than this are hashed, to keep cache keys short.
_MAX_SCOPE_TOKEN = 64

Scope = frozenset[int] | None
"""``None``: every merchant; else the ids of the merchants the user is limited to (maybe none)."""


@dataclass(frozen=True)
class Period:
    """The last ``days`` dates, ``start`` to ``end`` (today) inclusive, in ``TIME_ZONE``."""

    days: int
    start: date
    end: date

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

    def start_datetime(self) -> datetime:
        """The first instant of ``start`` in the current time zone (for filtering datetime columns)."""
        return timezone.make_aware(datetime.combine(self.start, datetime.min.time()))

    def end_datetime(self) -> datetime:
        """The first instant after ``end`` (exclusive upper bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), datetime.min.time()))


@dataclass(frozen=True)
class CardContext:
    """What a card builder gets: whose figures (``scope``), over which ``period``, as of ``now``."""

    scope: Scope
    period: Period
    now: datetime


@dataclass(frozen=True)
class Figure:
    """One headline number of a card, with a short label ("Live", "Out of stock")."""

    label: str
    value: int


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]
    color: str = "var(--color-primary-600)"


@dataclass(frozen=True)
class Chart:
    """A line or bar chart: one label per point on the x axis, one or more series of the same length."""

    kind: Literal["line", "bar"]
    labels: tuple[str, ...]
    series: tuple[Series, ...]

    def to_json(self) -> str:
        """The Chart.js ``data`` object that unfold's chart component reads from its ``data-value`` attribute."""
        datasets = [
            {
                "label": series.label,
                "data": list(series.values),
                "borderColor": series.color,
                "backgroundColor": series.color,
            }
            for series in self.series
        ]
        return json.dumps({"labels": list(self.labels), "datasets": datasets})


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class CardData:
    """What a builder returns: headline figures, and optionally a chart and a table."""

    figures: tuple[Figure, ...] = ()
    chart: Chart | None = None
    table: Table | None = None


CardBuilder = Callable[[CardContext], CardData]
ScopeResolver = Callable[[Any], Scope]


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    order: int
    builder: CardBuilder
    permission: str | None = None
    platform_wide: bool = False
    link: str | None = None


@dataclass(frozen=True)
class RenderedCard:
    """A card ready for the template: its title, its data and the URL its title links to (if any)."""

    key: str
    title: str
    data: CardData
    url: str | None = None
    chart_json: str | None = None

    @property
    def detailed(self) -> bool:
        """Has a chart or a table (laid out in the wider second row), not only figures."""
        return self.data.chart is not None or self.data.table is not None


_cards: dict[str, Card] = {}
_scope_resolvers: list[ScopeResolver] = []


def register_card(
    *,
    key: str,
    title: str,
    order: int,
    builder: CardBuilder,
    permission: str | None = None,
    platform_wide: bool = False,
    link: str | None = None,
) -> None:
    """Add a card to the dashboard (call from ``AppConfig.ready``; registering a key again replaces it).

    ``order`` places it (lower first; catalog 100s, offers 200s, accounts 300s, notifications 900s, later apps
    in between); ``permission`` (``"app.view_model"``) is needed to see it; ``platform_wide`` hides it from
    merchant-scoped users; ``link`` is the URL name (``"admin:catalog_product_changelist"``) its title leads to.
    """
    _cards[key] = Card(
        key=key,
        title=title,
        order=order,
        builder=builder,
        permission=permission,
        platform_wide=platform_wide,
        link=link,
    )


def unregister_card(key: str) -> None:
    _cards.pop(key, None)


def registered_cards() -> list[Card]:
    return sorted(_cards.values(), key=lambda card: (card.order, card.key))


def register_scope_resolver(resolver: ScopeResolver) -> None:
    """Set how a user's merchant scope is found (the catalog registers ``merchant_ids_for_user``)."""
    _scope_resolvers[:] = [resolver]


def scope_for(user: Any) -> Scope:
    return _scope_resolvers[0](user) if _scope_resolvers else None


def parse_days(value: str | None) -> int:
    """``?days=`` as one of :data:`DAY_CHOICES`; anything else is :data:`DEFAULT_DAYS`."""
    for choice in DAY_CHOICES:
        if value == str(choice):
            return choice
    return DEFAULT_DAYS


def period_ending(*, days: int, today: date) -> Period:
    return Period(days=days, start=today - timedelta(days=days - 1), end=today)


def _scope_token(scope: Scope) -> str:
    if scope is None:
        return "all"
    token = "m" + ".".join(str(merchant_id) for merchant_id in sorted(scope))
    if len(token) > _MAX_SCOPE_TOKEN:
        token = "h" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return token


def cache_key(card: Card, *, scope: Scope, period: Period) -> str:
    return f"dashboard:v{CACHE_VERSION}:{card.key}:{_scope_token(scope)}:{period.days}:{period.end.isoformat()}"


def visible_cards(user: Any, *, scope: Scope) -> list[Card]:
    """The registered cards ``user`` may see, in order."""
    merchant_scoped = scope is not None
    return [
        card
        for card in registered_cards()
        if (card.permission is None or user.has_perm(card.permission)) and not (card.platform_wide and merchant_scoped)
    ]


def card_data(cards: Sequence[Card], *, scope: Scope, period: Period, now: datetime) -> dict[str, CardData]:
    """Each card's data, from the cache (one round trip for all) or built and cached for :data:`CACHE_SECONDS`."""
    keys = {card.key: cache_key(card, scope=scope, period=period) for card in cards}
    cached: dict[str, Any] = cache.get_many(list(keys.values())) if keys else {}
    context = CardContext(scope=scope, period=period, now=now)
    result: dict[str, CardData] = {}
    fresh: dict[str, CardData] = {}
    for card in cards:
        data = cached.get(keys[card.key])
        if not isinstance(data, CardData):
            data = card.builder(context)
            fresh[keys[card.key]] = data
        result[card.key] = data
    if fresh:
        cache.set_many(fresh, timeout=CACHE_SECONDS)
    return result


def _render(card: Card, data: CardData) -> RenderedCard:
    return RenderedCard(
        key=card.key,
        title=card.title,
        data=data,
        url=reverse(card.link) if card.link else None,
        chart_json=data.chart.to_json() if data.chart is not None else None,
    )


def cards_for(request: HttpRequest, *, days: int) -> list[RenderedCard]:
    """The dashboard of ``request.user`` over the last ``days`` days: the cards they may see, with their data."""
    now = timezone.now()
    period = period_ending(days=days, today=timezone.localdate(now))
    scope = scope_for(request.user)
    cards = visible_cards(request.user, scope=scope)
    data = card_data(cards, scope=scope, period=period, now=now)
    return [_render(card, data[card.key]) for card in cards]


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """unfold's ``DASHBOARD_CALLBACK``: adds the cards and the range control to the admin index's context."""
    days = parse_days(request.GET.get("days"))
    context.update(
        dashboard_cards=cards_for(request, days=days),
        dashboard_days=days,
        dashboard_ranges=[
            {"title": f"{choice} days", "link": f"?days={choice}", "active": choice == days} for choice in DAY_CHOICES
        ],
    )
    return context
