"""Fixtures of the offers tests: staff clients for the admin (2FA-verified) and role members."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import CATALOG_MANAGER, MERCHANT_STAFF
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory
from tests.conftest import login_verified
from tests.factories import StaffFactory


@pytest.fixture
def admin_login():
    """``admin_login(client, user)``: ``client`` signed in to the admin as ``user``, second factor passed."""
    return login_verified


@pytest.fixture
def merchant():
    return MerchantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_merchant():
    return MerchantFactory(slug="globex", name="Globex")


# The same two merchants under their names, for tests that read better with them.
@pytest.fixture
def acme(merchant):
    return merchant


@pytest.fixture
def globex(other_merchant):
    return other_merchant


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
