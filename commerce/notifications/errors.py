"""Delivery errors raised by the email and SMS backends.

A backend classifies every failure as one of two kinds, and the delivery service acts on the kind:

* :class:`TransientSendError`: the provider may accept the same message later (timeouts, connection errors,
  throttling, 4xx SMTP replies, 429/5xx HTTP answers). The notification is retried with backoff.
* :class:`PermanentSendError`: resending the same message will fail the same way (an invalid number, a
  refused mailbox, a rejected request). The notification becomes a dead letter at once.
"""


class SendError(Exception):
    """A message could not be handed to the provider."""


class TransientSendError(SendError):
    """The provider may accept the same message on a later attempt."""


class PermanentSendError(SendError):
    """The provider will not accept this message; retrying cannot help."""
