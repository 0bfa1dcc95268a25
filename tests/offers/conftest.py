"""Fixtures of the offers tests: staff clients for the admin (2FA-verified) and role members."""

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import CATALOG_MANAGER, MERCHANT_STAFF
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory
from tests.factories import StaffFactory


@pytest.fixture
def admin_login():
    """Log ``user`` into ``client`` for the admin, as a staff member who has passed TOTP verification.

    The session carries ``otp_device_id`` so the login counts as verified whether or not the admin requires
    OTP verification."""

    def login(client, user):
        client.force_login(user)
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        return client

    return login


@pytest.fixture
def merchant():
    return MerchantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_merchant():
    return MerchantFactory(slug="globex", name="Globex")


@pytest.fixture
def merchant_staff(merchant):
    user = StaffFactory(email="staff@acme.example.com")
    user.groups.add(Group.objects.get(name=MERCHANT_STAFF))
    MerchantMembershipFactory(merchant=merchant, user=user)
    return user


@pytest.fixture
def catalog_manager():
    user = StaffFactory(email="manager@example.com")
    user.groups.add(Group.objects.get(name=CATALOG_MANAGER))
    return user
