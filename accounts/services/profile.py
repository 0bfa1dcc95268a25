"""Changes a user makes to their own account: name, email, phone (verified by SMS code)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts import events
from accounts.models import PhoneOTP, User, UserManager
from commerce.core.errors import Conflict, InvalidInput

from .otp import phone_otp_check, phone_otp_request
from .registration import EMAIL_TAKEN


def profile_is_complete(user: User) -> bool:
    """A full name, an email and a verified phone."""
    return bool((user.full_name or "").strip() and user.email and user.phone and user.phone_verified)


def profile_completed_publish(*, user: User, was_complete: bool) -> None:
    """Publish ``profile_completed`` when a change made an incomplete profile complete. Accounts keeps no flag of
    "completed before": a profile emptied and completed again publishes again, and the receivers (loyalty's points)
    act once per member."""
    if not was_complete and profile_is_complete(user):
        events.publish(events.profile_completed, user_id=user.pk)


def user_update_profile(
    *, user: User, full_name: str | None = None, email: str | None = None, current_password: str | None = None
) -> User:
    """Update name and/or email. Changing the email of an account that has a password needs that password
    (a stolen access token must not be enough to take the login over)."""
    was_complete = profile_is_complete(user)
    fields: list[str] = []
    if full_name is not None:
        user.full_name = full_name.strip()
        fields.append("full_name")
    if email is not None:
        email = UserManager.normalize_email(email)
        if email != (user.email or ""):
            try:
                validate_email(email)
            except ValidationError as exc:
                raise InvalidInput("Enter a valid email address.", fields={"email": list(exc.messages)}) from exc
            if user.has_usable_password() and not user.check_password(current_password or ""):
                raise InvalidInput(
                    "Enter your current password to change your email address.",
                    code="password_required",
                    fields={"current_password": ["Your current password is required to change the email."]},
                )
            if User.objects.filter(email=email).exclude(pk=user.pk).exists():
                raise InvalidInput(EMAIL_TAKEN, code="email_taken", fields={"email": [EMAIL_TAKEN]})
            user.email = email
            fields.append("email")
    if fields:
        try:
            with transaction.atomic():
                user.save(update_fields=fields)
                profile_completed_publish(user=user, was_complete=was_complete)
        except IntegrityError as exc:
            raise InvalidInput(EMAIL_TAKEN, code="email_taken", fields={"email": [EMAIL_TAKEN]}) from exc
    return user


def phone_verification_request(*, user: User, phone: str) -> None:
    """Send a code to ``phone`` so the user can prove it is theirs. The answer is the same whether or not
    another account uses the number."""
    phone_otp_request(phone=phone, purpose=PhoneOTP.Purpose.VERIFY_PHONE, user_id=user.pk)


def phone_verification_confirm(*, user: User, phone: str, code: str) -> User:
    """Set ``phone`` as the user's verified phone once the code sent to it is given back.

    Only after the code proved possession does the user learn that another account holds the number
    (409 ``phone_in_use``: sign in with the phone to use that account).
    """
    check = phone_otp_check(phone=phone, purpose=PhoneOTP.Purpose.VERIFY_PHONE, code=code)
    if not check.ok:
        raise InvalidInput(check.message, code=check.error_code, fields={"code": [check.message]})
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if User.objects.filter(phone=phone).exclude(pk=user.pk).exists():
            raise Conflict("This phone number belongs to another account.", code="phone_in_use")
        was_complete = profile_is_complete(user)
        newly_verified = not (user.phone_verified and user.phone == phone)
        user.phone = phone
        user.phone_verified = True
        user.save(update_fields=["phone", "phone_verified"])
        if newly_verified:
            events.publish(events.phone_verified, user_id=user.pk)
        profile_completed_publish(user=user, was_complete=was_complete)
    return user
