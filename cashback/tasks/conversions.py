"""Cashback tasks: conversions (the affiliate link check)."""

from celery import shared_task

from commerce.offers.services.links import offers_links_check


@shared_task(name="cashback.tasks.conversions.check_offer_links", ignore_result=True)
def check_offer_links(limit: int = 200) -> int:
    """HEAD the destination links of up to ``limit`` live deals and cashback offers, least recently checked
    first, and mark each working or broken (clicks on a broken one go to its fallback). Safe to run twice: a
    verdict only replaces the one before it. Returns how many links were checked."""
    return offers_links_check(limit=limit)
