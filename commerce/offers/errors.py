"""Typed errors of the coupon service. The API answers them in the usual shape, e.g.
``{"code": "coupon_expired", "detail": "This coupon expired on 2026-03-01."}``.

Status codes: a limit that has been reached is a conflict with the coupon's state (409, as docs/architecture.md has it
for "coupon used up"); everything the shopper can fix by typing another code or changing the cart is 400.

=========================  ======  ==========================================================
code                       status  when
=========================  ======  ==========================================================
``coupon_unknown``         400     no active offer of this merchant has the code
``coupon_not_started``     400     the offer starts later
``coupon_expired``         400     the offer has ended
``coupon_used_up``         409     the total usage limit is reached
``coupon_per_user_limit``  409     this shopper has used it as often as allowed
``coupon_minimum_not_met`` 400     the cart subtotal is below the offer's minimum order amount
``coupon_not_applicable``  400     no item in the cart is eligible (or another currency)
=========================  ======  ==========================================================
"""

from commerce.core.errors import DomainError


class CouponError(DomainError):
    """Base of every coupon error; catch this to treat them alike."""

    status = 400
    default_code = "coupon_invalid"


class CouponUnknown(CouponError):
    default_code = "coupon_unknown"


class CouponNotStarted(CouponError):
    default_code = "coupon_not_started"


class CouponExpired(CouponError):
    default_code = "coupon_expired"


class CouponUsedUp(CouponError):
    status = 409
    default_code = "coupon_used_up"


class CouponPerUserLimit(CouponError):
    status = 409
    default_code = "coupon_per_user_limit"


class CouponMinimumNotMet(CouponError):
    default_code = "coupon_minimum_not_met"


class CouponNotApplicable(CouponError):
    default_code = "coupon_not_applicable"
