"""Affiliate link health: where a click goes while an offer's destination link is broken, and the link check.

An offer's ``destination_url`` (the affiliate link) is *broken* while ``link_broken_at`` is set. It is set and
cleared by :func:`offer_link_mark`, called by staff (the offers admin's "Mark link broken" / "Mark link working"
actions) and by :func:`offers_links_check`, the periodic check (task
``cashback.tasks.conversions.check_offer_links``). While broken, clicks go to the offer's ``fallback_url``, else
to the merchant's website (:func:`offer_click_destination`); the click id is appended as always.

Decisions where the issue is silent:

* The check sends ``HEAD`` (redirects not followed: a 3xx answers for the link) and calls a link *working* on
  2xx and 3xx; on 405 (a server that does not allow ``HEAD``) it retries with ``GET`` and ``stream=True``, so
  only the headers are read. 4xx, 5xx, timeouts (``OFFER_LINK_CHECK_TIMEOUT_SECONDS``), connection and TLS
  errors make it *broken*. The check's verdict replaces a staff mark: a link staff marked broken that answers
  again is working again at the next check (and the other way round), each change audited.
* ``offer.link_marked`` is audited when the state changes, not for every check that finds it unchanged; the
  check's rows have no actor (label "link check").
* A broken link with neither a fallback nor a merchant website still leads to the destination: it is the only
  place we know of, and a click that goes somewhere beats a refused one.
"""

import logging
from datetime import datetime

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record

from ..models import Offer, OfferKind

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5
USER_AGENT = "CommerceLinkCheck/1.0 (+affiliate link health check)"
CHECK_ACTOR_LABEL = "link check"
# Offers whose destination is an affiliate link worth checking: coupons lead to the merchant's site at most.
CHECKED_KINDS = (OfferKind.DEAL, OfferKind.CASHBACK)

# The check's HTTP session; tests mount a fake transport adapter on it (no network in tests).
session = requests.Session()
session.headers["User-Agent"] = USER_AGENT


def offer_click_destination(offer: Offer) -> str:
    """Where a click on ``offer`` goes: its destination, or while that link is broken its fallback URL, else the
    merchant's website (else the destination after all). ``''`` when there is nowhere to go."""
    if offer.link_broken_at is not None and offer.destination_url:
        return offer.fallback_url or offer.merchant.website or offer.destination_url
    return offer.destination


def _set_state(*, offer_id: int, broken: bool, now: datetime, actor: User | None, checked: bool) -> tuple[Offer, bool]:
    """Lock the offer, set its link state (and check time) and audit a change. Returns the offer and whether
    the state changed. Runs in the caller's transaction."""
    offer = Offer.objects.select_for_update().get(pk=offer_id)
    was_broken = offer.link_broken_at is not None
    changed = was_broken != broken
    fields = ["updated_at"]
    if changed:
        offer.link_broken_at = now if broken else None
        fields.append("link_broken_at")
    if checked:
        offer.link_checked_at = now
        fields.append("link_checked_at")
    offer.save(update_fields=fields)
    if changed:
        audit_record(
            action="offer.link_marked",
            target=offer,
            actor=actor,
            actor_label=None if actor is not None or not checked else CHECK_ACTOR_LABEL,
            before={"broken": was_broken},
            after={"broken": broken, "by": "staff" if actor is not None else "check" if checked else "system"},
        )
    return offer, changed


def offer_link_mark(*, offer_id: int, broken: bool, actor: User | None = None) -> Offer:
    """Mark the offer's destination link broken (clicks go to the fallback) or working again. Idempotent: marking
    it as it already is changes nothing (and audits nothing). Audited as ``offer.link_marked``."""
    with transaction.atomic():
        offer, _ = _set_state(offer_id=offer_id, broken=broken, now=timezone.now(), actor=actor, checked=False)
    return offer


def link_is_working(url: str, *, timeout: float | None = None) -> bool:
    """Whether ``url`` answers (see the module docstring). Never raises for network trouble: that is broken."""
    timeout = timeout if timeout is not None else getattr(settings, "OFFER_LINK_CHECK_TIMEOUT_SECONDS", 5)
    try:
        response = session.head(url, timeout=timeout, allow_redirects=False)
        if response.status_code == 405:
            with session.get(url, timeout=timeout, allow_redirects=False, stream=True) as streamed:
                return streamed.status_code < 400
        return response.status_code < 400
    except requests.RequestException as exc:
        logger.info("Offer link %s unreachable: %s", url, type(exc).__name__)
        return False


def _due_offers(now: datetime, limit: int) -> list[tuple[int, str]]:
    """(id, destination URL) of the live offers to check, least recently checked (never checked first)."""
    rows = (
        Offer.objects.live(now)
        .filter(kind__in=CHECKED_KINDS)
        .exclude(Q(destination_url=""))
        .order_by(F("link_checked_at").asc(nulls_first=True), "id")
        .values_list("id", "destination_url")[:limit]
    )
    return list(rows)


def offers_links_check(*, now: datetime | None = None, limit: int = 200) -> int:
    """Check up to ``limit`` live deals' and cashback offers' destination links and record each verdict; returns
    how many were checked. The HTTP requests run outside any transaction; each verdict is then written in a
    short one (the offer's row locked only for that write)."""
    checked = 0
    for offer_id, url in _due_offers(now or timezone.now(), limit):
        working = link_is_working(url)
        with transaction.atomic():
            offer = Offer.objects.select_for_update().filter(pk=offer_id).only("destination_url").first()
            if offer is None or offer.destination_url != url:
                continue  # deleted or edited while we checked: the next run checks the new link
            _, changed = _set_state(
                offer_id=offer_id, broken=not working, now=now or timezone.now(), actor=None, checked=True
            )
        checked += 1
        if changed:
            logger.warning("Offer %s link %s is now %s", offer_id, url, "working" if working else "broken")
    return checked
