"""An email backend for tests that fails on demand, like InMemorySmsBackend does for SMS."""

from django.core.mail.backends.locmem import EmailBackend

# Exceptions to raise instead of sending, first one first; each is used once.
failures: list[Exception] = []


class FailingEmailBackend(EmailBackend):
    def send_messages(self, messages):
        if failures:
            raise failures.pop(0)
        return super().send_messages(messages)
