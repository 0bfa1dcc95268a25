"""The back office theme (django-unfold): every admin in the theme, the sidebar grouped by job and shown per
role, the branded header, no asset from another host, and the sign-in, setup and lockout pages in the theme."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.test import RequestFactory
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.sites import UnfoldAdminSite

from accounts.admin_site import AccountsAdminSite
from accounts.roles import ADMIN, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from commerce.core.admin_navigation import can_open, nav_groups, sidebar_navigation
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory, ProductFactory
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
SETUP = "/admin/otp/setup/"
THEME_CSS = "/static/unfold/css/styles.css"


# --- Every admin in the theme -------------------------------------------------------------------------------


def test_the_admin_site_is_the_otp_site_and_the_unfold_site():
    assert type(admin.site._wrapped) is AccountsAdminSite
    assert isinstance(admin.site, OTPAdminSite)
    assert isinstance(admin.site, UnfoldAdminSite)
    # The OTP permission check comes before unfold's (which has none of its own).
    mro = AccountsAdminSite.__mro__
    assert mro.index(OTPAdminSite) < mro.index(UnfoldAdminSite)


def test_every_registered_admin_and_its_inlines_are_unfolds():
    assert len(admin.site._registry) >= 22
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, ModelAdmin), model._meta.label
        for inline in model_admin.inlines:
            assert issubclass(inline, (TabularInline, StackedInline)), (model._meta.label, inline)


def test_library_admins_are_re_registered_in_the_theme_and_keep_their_columns():
    from axes.admin import AccessAttemptAdmin
    from django.contrib.auth.admin import GroupAdmin
    from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin

    groups = admin.site.get_model_admin(Group)
    assert isinstance(groups, GroupAdmin)
    totp = admin.site.get_model_admin(TOTPDevice)
    assert isinstance(totp, TOTPDeviceAdmin)
    assert totp.list_display == ["user", "name", "created_at", "last_used_at", "confirmed"]
    from axes.models import AccessAttempt

    assert isinstance(admin.site.get_model_admin(AccessAttempt), AccessAttemptAdmin)


def test_otp_devices_keep_their_secrets_hidden_in_the_themed_admin(client, admin_login, settings):
    assert settings.OTP_ADMIN_HIDE_SENSITIVE_DATA is True
    admin_login(StaffFactory(is_superuser=True))
    device = TOTPDevice.objects.create(user=UserFactory(), name="phone", confirmed=True)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert THEME_CSS in html
    assert 'name="key"' not in html
    assert device.key not in html
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403

    static = StaticDevice.objects.create(user=device.user, name="backup", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd2345")
    page = client.get(f"/admin/otp_static/staticdevice/{static.pk}/change/").content.decode()
    assert "abcd2345" not in page


def test_lockout_rows_cannot_be_added_by_hand_in_the_themed_admin(client, admin_login):
    admin_login(StaffFactory(is_superuser=True))
    assert client.get("/admin/axes/accessattempt/").status_code == 200
    assert client.get("/admin/axes/accessattempt/add/").status_code == 403


# --- Navigation grouped by job -----------------------------------------------------------------------------

CATALOG = ["Products", "Variants", "Categories", "Merchants", "Memberships", "Saved searches"]
OFFERS = ["Offers", "Redemptions", "Clicks", "Daily stats"]
SYSTEM_ADMIN = [
    "Notifications",
    "Audit log",
    "Roles",
    "SMS devices",
    "Authenticator apps",
    "Backup codes",
    "Lockouts",
    "Sign-in log",
    "Sign-in failures",
]
SALES = ["Orders", "Sales overview", "Invoices", "Shipping", "Tax rates"]
FINANCE_DESK = ["Payments", "Refunds", "Webhook events"]
CASHBACK_DESK = [
    "Cashback review",
    "Cashback history",
    "Risk assessments",
    "Withdrawals",
    "Wallets",
    "Wallet ledger",
    "Conversions",
    "Conversion reports",
    "Cashback terms",
]
# Support answers shoppers: their cashback, wallets and withdrawals, no conversions or merchants' terms.
CASHBACK_SUPPORT = CASHBACK_DESK[:6]
LOYALTY_DESK = [
    "Members",
    "Points ledger",
    "Tier changes",
    "Checkout holds",
    "Rewards redeemed",
    "Achievements earned",
    "Referrals",
    "Programme settings",
    "Earning rules",
    "Campaigns",
    "Tiers",
    "Rewards",
    "Achievements",
]
# Support answers members: their points and history, and what the programme offers; not its settings.
LOYALTY_SUPPORT = [*LOYALTY_DESK[:7], "Tiers", "Rewards", "Achievements"]
SIDEBARS = {
    "superuser": [
        ("Sales", SALES),
        ("Catalog", CATALOG),
        ("Offers", OFFERS),
        ("Customers", ["Users"]),
        ("Finance", FINANCE_DESK),
        ("Cashback", CASHBACK_DESK),
        ("Loyalty", LOYALTY_DESK),
        ("System", [*SYSTEM_ADMIN[:6], "Issued tokens", "Revoked tokens", *SYSTEM_ADMIN[6:]]),
    ],
    ADMIN: [
        ("Sales", SALES),
        ("Catalog", CATALOG),
        ("Offers", OFFERS),
        ("Customers", ["Users"]),
        ("Finance", FINANCE_DESK),
        ("Cashback", CASHBACK_DESK),
        ("Loyalty", LOYALTY_DESK),
        ("System", SYSTEM_ADMIN),
    ],
    SUPPORT: [
        ("Sales", ["Orders", "Invoices"]),  # no sales figures, no shipping or tax settings
        ("Catalog", CATALOG),
        ("Offers", OFFERS),
        ("Customers", ["Users"]),
        ("Finance", ["Payments", "Refunds"]),  # to answer "where is my refund?"; no webhooks
        ("Cashback", CASHBACK_SUPPORT),
        ("Loyalty", LOYALTY_SUPPORT),
        ("System", ["Notifications", "Lockouts"]),
    ],
    FINANCE: [
        ("Sales", SALES),
        ("Customers", ["Users"]),
        ("Finance", FINANCE_DESK),
        ("Cashback", CASHBACK_DESK),
        ("Loyalty", LOYALTY_DESK),  # to read: finance changes nothing in loyalty
        ("System", ["Audit log"]),
    ],
    CATALOG_MANAGER: [("Sales", ["Shipping", "Tax rates"]), ("Catalog", CATALOG), ("Offers", OFFERS)],
    # Their merchant's catalog and offers (categories: the product form's category picker), nothing of System
    # or Finance.
    MERCHANT_STAFF: [
        ("Sales", ["Orders", "Sales overview", "Invoices", "Shipping"]),
        ("Catalog", ["Products", "Variants", "Categories", "Merchants"]),
        ("Offers", ["Offers"]),
        ("Cashback", ["Conversions", "Conversion reports"]),  # their own merchants' only
    ],
}


def _user_in(role: str):
    if role == "superuser":
        return StaffFactory(is_superuser=True)
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=role))
    if role == MERCHANT_STAFF:
        MerchantMembershipFactory(merchant=MerchantFactory(), user=user)
    return user


def _sidebar_html(html: str) -> str:
    """The grouped navigation of a rendered admin page (up to the signed-in user's menu below it)."""
    start = html.index('id="nav-sidebar-apps"')
    return html[start : html.index("openUserLinks", start)]


@pytest.mark.parametrize("role", list(SIDEBARS))
def test_the_sidebar_shows_each_role_exactly_the_groups_and_items_it_may_use(client, admin_login, role):
    admin_login(_user_in(role))
    response = client.get("/admin/")
    assert response.status_code == 200

    groups = [
        (group["title"], [item["title"] for item in group["items"] if item["has_permission"]])
        for group in response.context["sidebar_navigation"]
    ]
    assert groups == [("", ["Dashboard"]), *SIDEBARS[role]]

    # The page shows the same: the group headings, and links to exactly the allowed lists.
    sidebar = _sidebar_html(response.content.decode())
    headings = [re.sub(r"\s+", " ", heading).strip() for heading in re.findall(r"<h2[^>]*>(.*?)</h2>", sidebar, re.S)]
    assert headings == [title for title, _ in SIDEBARS[role]]
    links = re.findall(r'<a href="([^"]+)"', sidebar)
    expected = ["/admin/"] + [
        str(item["link"]) for group in response.context["sidebar_navigation"][1:] for item in group["items"]
    ]
    assert links == expected
    assert len(links) == 1 + sum(len(items) for _, items in SIDEBARS[role])


def test_every_item_links_to_the_list_the_user_can_open(client, admin_login):
    admin_login(_user_in(SUPPORT))
    navigation = client.get("/admin/").context["sidebar_navigation"]
    for group in navigation[1:]:
        for item in group["items"]:
            assert client.get(str(item["link"])).status_code == 200, item["title"]
    assert client.get("/admin/auth/group/").status_code == 403  # "Roles": not in a support user's sidebar


def test_merchant_staff_see_the_catalog_and_offers_only(client, admin_login):
    admin_login(_user_in(MERCHANT_STAFF))
    sidebar = _sidebar_html(client.get("/admin/").content.decode())
    assert "System" not in sidebar and "Customers" not in sidebar and "Finance" not in sidebar
    assert "/admin/notifications/" not in sidebar and "/admin/accounts/" not in sidebar
    assert "/admin/payments/" not in sidebar


def test_every_registered_model_has_a_place_in_the_navigation(settings):
    listed = {model.lower() for _, items in settings.ADMIN_NAVIGATION for _, _, model in items}
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert listed == registered


def test_empty_groups_are_left_out_and_items_follow_the_model_admin(rf: RequestFactory):
    request = rf.get("/admin/")
    request.user = _user_in(FINANCE)
    spec = [
        ("Sales", []),
        ("Customers", [("Users", "person", "accounts.User"), ("Products", "inventory_2", "catalog.Product")]),
        ("Elsewhere", [("Ghost", "help", "nosuchapp.Ghost"), ("Permissions", "key", "auth.Permission")]),
    ]
    groups = nav_groups(request, spec)
    assert [(group["title"], [item["title"] for item in group["items"]]) for group in groups] == [
        ("Customers", ["Users"])
    ]
    assert str(groups[0]["items"][0]["link"]) == "/admin/accounts/user/"
    assert can_open(request, model="nosuchapp.Ghost") is False  # not an installed app
    assert can_open(request, model="auth.Permission") is False  # installed, not registered in the admin
    assert can_open(request, model="catalog.Product") is False  # registered; finance may not view it
    assert can_open(request, model="accounts.User") is True


def test_adding_an_item_to_a_declared_empty_group_shows_the_group(rf, settings):
    request = rf.get("/admin/")
    request.user = _user_in("superuser")
    settings.ADMIN_NAVIGATION = [("Sales", []), ("Finance", [])]
    assert [group["title"] for group in sidebar_navigation(request)] == [""]
    settings.ADMIN_NAVIGATION = [("Sales", [("Users", "person", "accounts.User")]), ("Finance", [])]
    assert [group["title"] for group in sidebar_navigation(request)] == ["", "Sales"]


# --- Branded header -----------------------------------------------------------------------------------------


def test_the_header_title_and_sign_in_page_show_the_admin_site_name(client, admin_login, settings):
    assert admin.site.site_header == admin.site.site_title == settings.ADMIN_SITE_NAME == "Commerce back office"
    assert admin.site.index_title == "Dashboard"
    settings.ADMIN_SITE_NAME = "Acme Deals back office"

    sign_in = client.get(LOGIN).content.decode()
    assert re.search(r"<title>\s*Log in \| Acme Deals back office\s*</title>", sign_in)
    assert "Sign in to" in sign_in and ">Acme Deals back office</span>" in sign_in

    admin_login(StaffFactory(is_superuser=True))
    html = client.get("/admin/catalog/merchant/").content.decode()
    assert re.search(r"<title>\s*Select merchant to change \| Acme Deals back office\s*</title>", html)
    assert re.search(r"<h2[^>]*>\s*Acme Deals back office\s*</h2>|>\s*Acme Deals back office\s*<", html)
    assert "Django administration" not in html and "Commerce back office" not in html


# --- Only our own assets ------------------------------------------------------------------------------------


def _assets(html: str) -> list[str]:
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", html)
    styles = re.findall(r"<link\b[^>]*\bhref=\"([^\"]+)\"", html)
    return scripts + styles


def _assert_only_our_static_files(html: str) -> None:
    assets = _assets(html)
    assert THEME_CSS in assets
    for url in assets:
        if url == "data:,":  # the empty favicon
            continue
        assert url.startswith("/") and not url.startswith("//"), url  # our host: no CDN, no other origin
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"{url} is not one of our static files"
        else:
            assert url == "/admin/jsi18n/", url  # the admin's own translation catalogue


def test_admin_pages_load_scripts_and_styles_from_our_static_files_only(client, admin_login):
    _assert_only_our_static_files(client.get(LOGIN).content.decode())
    admin_login(StaffFactory(is_superuser=True))
    product = ProductFactory()
    for path in (
        "/admin/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/otp_totp/totpdevice/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_only_our_static_files(response.content.decode())


def test_the_theme_fonts_are_shipped_too():
    # The theme's stylesheets name their fonts by relative URL; the files are in the package, not on a CDN.
    for stylesheet in ("unfold/fonts/inter/styles.css", "unfold/fonts/material-symbols/styles.css"):
        with open(finders.find(stylesheet)) as file:
            css = file.read()
        assert "http://" not in css and "https://" not in css and "//" not in re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        fonts = re.findall(r"url\(['\"]?([^'\")]+)", css)
        assert fonts, stylesheet
        for font in fonts:
            assert finders.find(f"{stylesheet.rsplit('/', 1)[0]}/{font}"), font


# --- Sign-in, setup and lockout pages in the theme ----------------------------------------------------------


def test_the_sign_in_page_is_the_themes_with_the_authenticator_code(client):
    html = client.get(LOGIN).content.decode()
    assert THEME_CSS in html
    form = re.search(r'<form action="/admin/login/" method="post" id="login-form">(.*?)</form>', html, re.S).group(1)
    assert re.findall(r'<input type="(\w+)" name="(\w+)"', form) == [
        ("hidden", "csrfmiddlewaretoken"),
        ("text", "username"),
        ("password", "password"),
        ("text", "otp_token"),
        ("hidden", "next"),
    ]
    assert 'autocomplete="one-time-code"' in form
    assert "The 6-digit code from your authenticator app, or a backup code." in form
    assert 'id="nav-sidebar-apps"' not in html


def test_sign_in_errors_show_in_the_theme(client):
    StaffFactory(email="staff@example.com")
    html = client.post(LOGIN, {"username": "staff@example.com", "password": "wrong"}).content.decode()
    assert THEME_CSS in html
    assert re.search(r'<div class="errornote[^"]*">\s*Please enter the correct email address and password', html)


def test_the_setup_page_is_in_the_theme_without_navigation(client):
    from tests.factories import TEST_PASSWORD

    StaffFactory(email="new.staff@example.com")
    client.post(LOGIN, {"username": "new.staff@example.com", "password": TEST_PASSWORD})
    response = client.get(SETUP)
    assert response.status_code == 200
    html = response.content.decode()
    assert THEME_CSS in html
    assert re.search(r"<title>\s*Set up two-factor authentication \| Commerce back office\s*</title>", html)
    assert 'id="otp-qr"' in html and 'id="otp-setup-form"' in html
    assert 'id="nav-sidebar-apps"' not in html  # not verified yet: nothing to navigate to
    _assert_only_our_static_files(html)


def test_the_lockout_page_is_in_the_theme(client, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 1
    StaffFactory(email="staff@example.com")
    client.post(LOGIN, {"username": "staff@example.com", "password": "wrong"})
    locked = client.post(LOGIN, {"username": "staff@example.com", "password": "wrong"})
    assert locked.status_code == 429
    html = locked.content.decode()
    assert THEME_CSS in html
    assert re.search(r"<title>\s*Sign-in locked \| Commerce back office\s*</title>", html)
    assert "Too many failed sign-in attempts." in html
    assert "'unsafe-eval'" in locked["Content-Security-Policy"]  # the theme's scripts may run here too


@pytest.mark.parametrize(
    "model_path",
    [
        "rest_framework_simplejwt.token_blacklist.models.OutstandingToken",
        "rest_framework_simplejwt.token_blacklist.models.BlacklistedToken",
        "axes.models.AccessLog",
        "axes.models.AccessFailureLog",
    ],
)
def test_library_records_are_read_only_for_everyone(model_path, rf):
    from django.utils.module_loading import import_string

    model_admin = admin.site._registry[import_string(model_path)]
    request = rf.get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.get_actions(request) == {}


def test_access_attempts_can_be_deleted_to_unlock_but_not_edited(rf):
    from axes.models import AccessAttempt

    model_admin = admin.site._registry[AccessAttempt]
    request = rf.get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is True
