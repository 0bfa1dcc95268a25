"""End-to-end tests of the back office in a real headless Chromium, driven by Playwright against pytest-django's
live server.

* The browser is Debian's ``chromium`` (``tests/browser/chromium.py``), never one downloaded by
  ``playwright install``. One browser is launched for the package (``scope="package"``: it closes right after the
  last browser test, so the event loop Playwright's sync API keeps running in the test thread does not outlive
  these tests); every test gets a new context (cookies, storage) and page.
* Every test here is marked ``browser`` (deselected only where Chromium is missing; they run on SQLite and on
  PostgreSQL) and uses ``browser_db`` (a transactional database, which
  the live server's thread needs to see the test's rows, restored from the migrated snapshot so the roles created
  by data migrations exist).
* Time is frozen (``frozen_clock``) in the whole process, the live server's thread included, so a TOTP code is
  a known value: ``totp_code(device)`` is the code the server expects at that instant.
* A failing test that used ``page`` leaves a full-page screenshot in ``test-artifacts/<test name>.png``.
"""

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import ALL_ROLES
from accounts.services.two_factor import totp_secret
from tests.conftest import login_verified
from tests.factories import TEST_PASSWORD, StaffFactory

from .chromium import CHROMIUM_ARGS, LOG_IN, VIEWPORT, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A fixed instant (a Monday morning, mid-step of the 30-second TOTP clock) and a fixed TOTP key: the codes are
# known values and nothing depends on the day the suite runs.
FROZEN_AT = dt.datetime(2026, 3, 2, 9, 30, 10, tzinfo=dt.UTC)
TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
# Generous for a loaded 2-core CI machine; a passing step takes milliseconds.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def migrated_snapshot(django_db_setup, django_db_blocker) -> str:
    """The rows the migrations wrote (the roles and their permissions), as Django serialised them when it created
    the test database for ``serialized_rollback`` (``browser_db`` asks for that)."""
    from django.db import connection

    with django_db_blocker.unblock():
        return connection._test_serialized_contents


@pytest.fixture(scope="package")
def chromium(migrated_snapshot) -> Iterator[Any]:
    """The browser, and for as long as it runs, ORM calls allowed in the test thread.

    Playwright's sync API keeps an event loop running in the test thread, which Django takes for async code and
    refuses ORM calls from (``SynchronousOnlyOperation``), the database flush after each test included. They are
    safe here: one thread, and no coroutine touches the ORM.
    """
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            # Close the connections opened while the loop ran (see browser_db): left open, they would keep the
            # test database from being dropped at the end of the run.
            connections.close_all()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_db(chromium, migrated_snapshot, django_db_serialized_rollback, transactional_db) -> None:
    """The database of a browser test: committed rows (the live server's thread reads them), starting from the
    migrated state, the roles included.

    A transactional test empties every table when it ends, so after the first one (of this package or any other)
    the roles the data migrations created are gone. They are put back here from the migrated snapshot: the tables
    are emptied without re-creating content types and permissions (Django re-creates them after a flush, under
    new ids the snapshot's rows would clash with), then the snapshot is loaded. Django's own restore
    (``serialized_rollback``) does not happen here: while Playwright's loop runs, the test thread gets its
    connections per context, which do not carry the snapshot.
    """
    from django.core.management import call_command
    from django.db import connection

    if not Group.objects.filter(name__in=ALL_ROLES).exists():
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(migrated_snapshot)
    assert Group.objects.filter(name__in=ALL_ROLES).count() == len(ALL_ROLES)


@pytest.fixture
def frozen_clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def page(request, chromium, browser_db, frozen_clock, live_server) -> Iterator[Any]:
    """A new page in a fresh context (no cookies), at 1,366 x 768, addressed relative to the live server.

    Every page must work from our own server alone and within its Content-Security-Policy: a request to any other
    origin (a CDN) is refused and, like a CSP violation reported in the console, fails the test when it ends. The
    console's warnings and errors are kept for the failure report.
    """
    context = chromium.new_context(viewport=VIEWPORT, base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def refuse_other_origins(route: Any) -> None:
        url = route.request.url
        if url.startswith(f"{live_server.url}/"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", refuse_other_origins)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
    request.node.browser_console = console
    yield page
    context.close()
    assert outside == [], "requests to other origins"
    assert [line for line in console if "Content Security Policy" in line] == []


def totp_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now (at the frozen instant)."""
    return pyotp.TOTP(totp_secret(device)).now()


@pytest.fixture
def make_staff(browser_db) -> Callable[..., tuple[Any, TOTPDevice]]:
    """``make_staff(email, roles=(...), superuser=False)``: an active staff user with a confirmed authenticator app
    (``TOTP_KEY``), in the given roles (groups created by the roles migration)."""

    def make(email: str, *, roles: tuple[str, ...] = (), superuser: bool = False) -> tuple[Any, TOTPDevice]:
        user = StaffFactory(email=email, is_superuser=superuser)
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", key=TOTP_KEY, confirmed=True)
        return user, device

    return make


def submit(page: Any, control: Any) -> None:
    """Click ``control`` (a submit button, a link) and wait until the page it leads to has loaded, so what the
    test reads next is the new page, however slow the server."""
    with page.expect_navigation():
        control.click()


def fill_sign_in(page: Any, *, email: str, code: str, password: str = TEST_PASSWORD) -> None:
    """Fill and submit the admin sign-in form (by its field names, which every theme keeps)."""
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=otp_token]").fill(code)
    submit(page, page.get_by_role("button", name=LOG_IN))


@pytest.fixture
def sign_in(page) -> Callable[[Any, TOTPDevice], None]:
    """``sign_in(user, device)``: signs ``page`` in to the admin through the sign-in form, with the device's code."""

    def _sign_in(user: Any, device: TOTPDevice) -> None:
        fill_sign_in(page, email=user.email, code=totp_code(device))
        assert page.locator("input[name=otp_token]").count() == 0, "still on the sign-in page"

    return _sign_in


@pytest.fixture
def signed_in(page, live_server) -> Callable[[Any], None]:
    """``signed_in(user)``: gives ``page`` the session cookie of ``user`` signed in with a verified second factor,
    as the sign-in form leaves it (``tests.conftest.login_verified``), without loading the form: the tests of
    other screens start there, and only the sign-in tests pay for the form."""

    def _signed_in(user: Any) -> None:
        client = login_verified(Client(), user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    return _signed_in


def changelist_checkbox(page: Any, pk: int) -> Any:
    """The action checkbox of one changelist row (Django's ``_selected_action`` field, kept by every theme)."""
    return page.locator(f"input[name=_selected_action][value='{pk}']")


def run_action(page: Any, label: str) -> None:
    """Pick an admin action by its visible label and run it (Django's ``action`` select and ``index`` button)."""
    page.locator("select[name=action]").select_option(label=label)
    submit(page, page.locator("button[name=index]"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and report.when == "call" and page is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        safe_name = re.sub(r"[^\w.-]+", "_", item.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{safe_name}.png"), full_page=True)
        except Exception as exc:  # the page may be gone (browser crash): the report still counts, say why
            report.sections.append(("screenshot", f"no screenshot: {exc}"))
        else:
            report.sections.append(("screenshot", f"saved test-artifacts/{safe_name}.png"))
        console = getattr(item, "browser_console", [])
        if console:
            report.sections.append(("browser console", "\n".join(console)))
    return report
