"""Account domain events: how higher apps (loyalty) learn that an account did something worth rewarding, without
accounts importing them. Each is a Django signal sent after the transaction that caused it commits (by
:func:`publish`); the sender is the ``User`` class and every signal carries ``user_id`` (int).

===================  ===========================================================================================
signal               sent when, and its extra arguments
===================  ===========================================================================================
user_registered      a shopper signed up (``POST auth/register``, or a first OTP sign-in that created the account):
                     ``referral_code`` (str, as given, possibly empty), ``ip`` (str | None), ``device_id``
                     (str | None: the ``X-Device-Id`` header).
phone_verified       the account's phone number was verified (OTP).
profile_completed    the profile has a full name, an email and a verified phone for the first time.
===================  ===========================================================================================
"""

from typing import Any

import django.dispatch
from django.db import transaction

user_registered = django.dispatch.Signal()
phone_verified = django.dispatch.Signal()
profile_completed = django.dispatch.Signal()


def publish(signal: django.dispatch.Signal, *, user_id: int, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one); one failing receiver is logged
    and does not stop the others."""
    from .models import User

    transaction.on_commit(lambda: signal.send_robust(sender=User, user_id=user_id, **kwargs))
