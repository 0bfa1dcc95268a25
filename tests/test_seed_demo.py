from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_seed_demo_creates_the_admin_with_the_configured_password(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("demo-pass-123!")
    assert "Demo admin created: admin@example.com / demo-pass-123!" in out.getvalue()


def test_seed_demo_generates_and_prints_a_password_when_none_is_configured(settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    out = StringIO()
    call_command("seed_demo", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("Demo admin created:"))
    password = line.rsplit(" / ", 1)[1]
    assert len(password) >= 16
    assert User.objects.get(email="admin@example.com").check_password(password)


def test_seed_demo_is_idempotent(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    call_command("seed_demo", stdout=StringIO())
    before = row_counts()
    password_hash = User.objects.get(email="admin@example.com").password
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert row_counts() == before
    assert User.objects.get(email="admin@example.com").password == password_hash
    assert "Demo admin exists: admin@example.com" in out.getvalue()
