"""Fixtures of the accounts tests: an empty SMS outbox, on-commit posting, users with and without TOTP."""

from collections.abc import Callable

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import UserFactory

from .helpers import client_for


@pytest.fixture(autouse=True)
def _eager_celery(eager_celery):
    """Tasks run in-process here also in the full-stack run (SMS go out in-process)."""


@pytest.fixture
def post(django_capture_on_commit_callbacks) -> Callable:
    """``post(client, url, data, **extra)`` that runs the on-commit callbacks (the SMS send) like a real commit."""

    def _post(client, url, data=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, format="json", **extra)

    return _post


@pytest.fixture
def user(db) -> User:
    return UserFactory(email="ann@example.com")


@pytest.fixture
def user_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def totp_user(db) -> tuple[User, TOTPDevice]:
    user = UserFactory(email="totp@example.com")
    return user, TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.fixture
def staff_with_totp(db) -> tuple[User, TOTPDevice]:
    user = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    return user, TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
