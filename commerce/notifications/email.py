"""Send a rendered email through Django's email backend (SMTP from ``EMAIL_URL``, console by default).

SMTP failures are classified for the retry logic: connection problems, timeouts and 4xx replies are transient;
5xx replies (recipient refused, message rejected, authentication refused) are permanent.
"""

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.utils import DNS_NAME

from .errors import PermanentSendError, SendError, TransientSendError

# Used when EMAIL_TIMEOUT is unset: a stalled SMTP server must not hold a worker until the task time limit.
DEFAULT_EMAIL_TIMEOUT_SECONDS = 30


def classify_smtp_error(exc: Exception) -> SendError:
    """The :class:`SendError` an exception raised by an email backend stands for."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        detail = f"Recipient refused: {exc.recipients}"
        if codes and all(code >= 500 for code in codes):
            return PermanentSendError(detail)
        return TransientSendError(detail)
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return TransientSendError(f"SMTP connection failed: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        return PermanentSendError(detail) if exc.smtp_code >= 500 else TransientSendError(detail)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentSendError(f"SMTP server does not support a required feature: {exc}")
    # Other SMTP errors and OSError (refused connections, DNS failures, socket timeouts) may pass on retry.
    return TransientSendError(f"Email delivery failed: {exc!r}")


def send_email(*, to: str, subject: str, text: str, html: str = "") -> str:
    """Send one email; return its ``Message-ID`` (our provider message id for email)."""
    message_id = make_msgid(domain=str(DNS_NAME))
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_EMAIL_TIMEOUT_SECONDS
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id},
        connection=get_connection(fail_silently=False, timeout=timeout),
    )
    if html:
        message.attach_alternative(html, "text/html")
    try:
        sent = message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise classify_smtp_error(exc) from exc
    if sent != 1:
        raise TransientSendError("The email backend reported that no message was sent.")
    return message_id
