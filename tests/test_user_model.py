import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.phone import normalize_phone

pytestmark = pytest.mark.django_db


def test_auth_user_model_is_the_custom_user():
    assert get_user_model() is User


def test_email_is_the_login_and_is_case_insensitive():
    User.objects.create_user(email="Ann@Example.COM", password="pw-Long-enough-1")
    user = User.objects.get()
    assert user.email == "ann@example.com"
    assert authenticate(username="ANN@example.com", password="pw-Long-enough-1") == user


def test_duplicate_email_in_other_case_is_refused():
    User.objects.create_user(email="ann@example.com", password="x")
    with pytest.raises(ValidationError):
        User.objects.create_user(email="ANN@EXAMPLE.COM", password="x")


def test_case_insensitive_uniqueness_is_enforced_by_the_database():
    User.objects.create_user(email="bob@example.com", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="BOB@example.com")])


def test_phone_is_optional_unique_and_e164():
    first = User.objects.create_user(email="a@example.com", phone="+919812345678")
    User.objects.create_user(email="b@example.com")
    User.objects.create_user(email="c@example.com", phone="")
    assert first.phone == "+919812345678"
    assert User.objects.filter(phone__isnull=True).count() == 2
    with pytest.raises(ValidationError):
        User.objects.create_user(email="d@example.com", phone="+919812345678")
    with pytest.raises(ValidationError):
        User.objects.create_user(email="e@example.com", phone="98123 45678")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("98123 45678", "+919812345678"), ("+1 (415) 555-2671", "+14155552671"), ("+44 20 7946 0958", "+442079460958")],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "12", "+99 123", "9" * 40, "\uff11\uff12\uff13"])
def test_normalize_phone_refuses_garbage(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_superuser_flags():
    admin = User.objects.create_superuser(email="root@example.com", password="pw")
    assert admin.is_staff and admin.is_superuser
