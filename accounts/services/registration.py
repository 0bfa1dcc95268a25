"""Email + password accounts."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts import events
from accounts.models import User, UserManager
from commerce.core.errors import InvalidInput

EMAIL_TAKEN = "An account with this email address already exists."


def user_register(
    *,
    email: str,
    password: str,
    full_name: str = "",
    referral_code: str = "",
    ip: str | None = None,
    device_id: str | None = None,
) -> User:
    """Create a shopper account. The password must pass Django's password validators (``AUTH_PASSWORD_VALIDATORS``),
    judged against this user's email and name; a taken email is a 400 ``email_taken``. Publishes
    ``user_registered`` (with ``referral_code`` as given, unchecked: loyalty judges it, and the client's ``ip`` and
    ``device_id``) after the account commits."""
    email = UserManager.normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid email address.", fields={"email": list(exc.messages)}) from exc
    candidate = User(email=email, full_name=full_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"password": list(exc.messages)}) from exc
    if User.objects.filter(email=email).exists():
        raise InvalidInput(EMAIL_TAKEN, code="email_taken", fields={"email": [EMAIL_TAKEN]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
            events.publish(
                events.user_registered, user_id=user.pk, referral_code=referral_code, ip=ip, device_id=device_id
            )
            return user
    except (IntegrityError, ValidationError) as exc:  # lost a race with another registration
        raise InvalidInput(EMAIL_TAKEN, code="email_taken", fields={"email": [EMAIL_TAKEN]}) from exc
