"""Every write of the offers app. Import from here: ``from commerce.offers.services import coupon_validate``."""

from .coupons import (
    CartLine,
    CouponQuote,
    coupon_eligible_lines,
    coupon_redeem,
    coupon_release,
    coupon_validate,
)
from .events import (
    CLICK_ID_PARAM,
    FlushResult,
    RecordedClick,
    offer_click_record,
    offer_events_flush,
    offer_view_record,
    with_click_id,
)
from .offers import offer_save, offer_set_active, offer_validate

__all__ = [
    "CLICK_ID_PARAM",
    "CartLine",
    "CouponQuote",
    "FlushResult",
    "RecordedClick",
    "coupon_eligible_lines",
    "coupon_redeem",
    "coupon_release",
    "coupon_validate",
    "offer_click_record",
    "offer_events_flush",
    "offer_save",
    "offer_set_active",
    "offer_validate",
    "offer_view_record",
    "with_click_id",
]
