import pytest

from tests.conftest import login_verified
from tests.factories import UserFactory


@pytest.fixture
def otp_admin_client(client, db):
    """A superuser signed in to the admin with a verified TOTP device (as the admin requires)."""
    return login_verified(client, UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture(autouse=True)
def _eager_celery(eager_celery):
    """Tasks run in-process here also in the full-stack run (the worker test opts out)."""


@pytest.fixture(autouse=True)
def _no_scripted_email_failures():
    from tests.notifications import backends

    backends.failures.clear()
    yield
    backends.failures.clear()
