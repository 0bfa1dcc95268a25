import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from commerce.notifications import sms
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


@pytest.fixture
def otp_admin_client(client, db):
    """A superuser signed in to the admin with a verified TOTP device (as the admin will require)."""
    user = UserFactory(is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    # django-otp's user_logged_in receiver persists this device in the session, like django_otp.login().
    user.otp_device = device
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _eager_celery():
    """Run tasks in-process, as the embedded default does, also in the full-stack run (the worker test opts out)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _no_scripted_email_failures():
    from tests.notifications import backends

    backends.failures.clear()
    yield
    backends.failures.clear()
