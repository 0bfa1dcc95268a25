import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_phone_only_accounts_have_no_email():
    user = User.objects.create(phone="+919812345678", phone_verified=True)
    assert user.email is None
    assert str(user) == "+919812345678"
    assert user.get_full_name() == "+919812345678"


def test_several_phone_only_accounts_may_exist():
    User.objects.create(phone="+919812345678")
    User.objects.create(phone="+919812345679", email="")
    assert User.objects.filter(email__isnull=True).count() == 2


def test_an_account_needs_an_email_or_a_phone():
    with pytest.raises(ValidationError):
        User(full_name="Nobody").full_clean(exclude=["password"])
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(full_name="Nobody")


def test_an_empty_login_never_matches_a_phone_only_account():
    from django.contrib.auth import authenticate

    user = User.objects.create(phone="+919812345678")
    user.set_password("whatever-pass-1")
    user.save()
    assert authenticate(email="", password="whatever-pass-1") is None
    assert authenticate(username=None, password="whatever-pass-1") is None
