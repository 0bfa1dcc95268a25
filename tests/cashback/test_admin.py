"""The cashback back office: who sees what (finance and admin everything, support read-only, merchant staff only
their own conversions, catalog managers nothing), the review queue and its actions, wallet adjustments, the
withdrawals queue and its actions, conversions with their raw reports, merchants' terms and secret rotation;
nothing about money editable through a form."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from accounts.roles import ADMIN, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from cashback.models import (
    CashbackEntry,
    CashbackStatus,
    ConversionReport,
    MerchantCashback,
    ReportOutcome,
    RiskAssessment,
    RiskLevel,
    Wallet,
    WalletEntry,
    WalletEntryKind,
    WithdrawalStatus,
)
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory
from tests.factories import StaffFactory, UserFactory

from .test_selectors import conversion_entry, ledger_credit, order_entry, withdrawal_held

pytestmark = pytest.mark.django_db

ENTRIES = "/admin/cashback/cashbackentry/"
EVENTS = "/admin/cashback/cashbackentryevent/"
ASSESSMENTS = "/admin/cashback/riskassessment/"
WALLETS = "/admin/cashback/wallet/"
LEDGER = "/admin/cashback/walletentry/"
WITHDRAWALS = "/admin/cashback/withdrawal/"
CONVERSIONS = "/admin/cashback/conversion/"
REPORTS = "/admin/cashback/conversionreport/"
TERMS = "/admin/cashback/merchantcashback/"
LISTS = [ENTRIES, EVENTS, ASSESSMENTS, WALLETS, LEDGER, WITHDRAWALS, CONVERSIONS, REPORTS, TERMS]
SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


def staff(*roles, **fields):
    user = StaffFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def offered_actions(page: str) -> list[str]:
    if 'name="action"' not in page:
        return []
    return re.findall(r'<option value="(\w+)"', page.split('name="action"', 1)[1].split("</select>", 1)[0])


def run_action(client, url: str, action: str, ids, **data):
    payload = {"action": action, "_selected_action": list(ids), **data}
    if "apply" not in data:
        payload["index"] = "0"
    return client.post(url, payload, follow=True)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def listed_ids(response) -> list[int]:
    return [row.pk for row in response.context["cl"].result_list]


def queued(order, *, amount="40.00", score=80, rules=None) -> CashbackEntry:
    """A confirmed entry the risk assessment sent to review, its amount pending in the wallet as the entries
    service leaves it, with one assessment."""
    entry = order_entry(
        order, amount=amount, status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.HIGH, risk_score=score
    )
    wallet, _ = Wallet.objects.get_or_create(user=order.user, defaults={"currency": "INR"})
    Wallet.objects.filter(pk=wallet.pk).update(pending=wallet.pending + Decimal(amount))
    RiskAssessment.objects.create(
        entry=entry,
        score=score,
        level=RiskLevel.HIGH,
        rules=rules or [{"code": "new_account", "weight": score, "reason": "Account 2 days old (under 7)."}],
    )
    return entry


def balances(user) -> tuple[Decimal, Decimal, Decimal]:
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.pending, wallet.held


@pytest.fixture
def conversion_report(shopper, merchant):
    """A conversion of ``merchant`` with its cashback and one accepted raw report."""
    entry = conversion_entry(user=shopper, merchant=merchant, reference="THR-1")
    ConversionReport.objects.create(
        merchant=merchant,
        conversion=entry.conversion,
        body='{"click_id": "c", "reference": "THR-1", "amount": "2000.00"}',
        outcome=ReportOutcome.ACCEPTED,
    )
    return entry.conversion


# --- who sees what --------------------------------------------------------------------------------------------

EVERYTHING = dict.fromkeys(LISTS, 200)
SUPPORT_SEES = {
    **dict.fromkeys(LISTS, 403),
    **dict.fromkeys([ENTRIES, EVENTS, ASSESSMENTS, WALLETS, LEDGER, WITHDRAWALS], 200),
}
MERCHANT_SEES = {**dict.fromkeys(LISTS, 403), CONVERSIONS: 200, REPORTS: 200}


@pytest.mark.parametrize(
    ("role", "statuses", "entry_actions", "withdrawal_actions"),
    [
        (
            ADMIN,
            EVERYTHING,
            ["approve_cashback", "reject_cashback"],
            ["approve_withdrawals", "reject_withdrawals", "record_payout", "mark_failed"],
        ),
        (
            FINANCE,
            EVERYTHING,
            ["approve_cashback", "reject_cashback"],
            ["approve_withdrawals", "reject_withdrawals", "record_payout", "mark_failed"],
        ),
        (SUPPORT, SUPPORT_SEES, [], []),
        (CATALOG_MANAGER, dict.fromkeys(LISTS, 403), None, None),
        (MERCHANT_STAFF, MERCHANT_SEES, None, None),
    ],
)
def test_each_role_sees_the_cashback_desk_it_may_use(
    client, admin_login, merchant, conversion_report, role, statuses, entry_actions, withdrawal_actions
):
    user = staff(role)
    if role == MERCHANT_STAFF:
        MerchantMembershipFactory(merchant=merchant, user=user)
    admin_login(user)

    seen = {url: client.get(url).status_code for url in LISTS}

    assert seen == statuses
    if entry_actions is not None:
        assert offered_actions(client.get(f"{ENTRIES}?queue=all").content.decode()) == entry_actions
        assert offered_actions(client.get(WITHDRAWALS).content.decode()) == withdrawal_actions


def test_merchant_staff_see_only_their_own_conversions_and_reports(
    client, admin_login, shopper, merchant, conversion_report
):
    other = conversion_entry(user=shopper, merchant=MerchantFactory(), reference="OTHER-1").conversion
    ConversionReport.objects.create(merchant=other.merchant, conversion=other, body="{}", outcome="accepted")
    ConversionReport.objects.create(merchant=None, body="not json", outcome="refused", error_code="unknown_merchant")
    user = staff(MERCHANT_STAFF)
    MerchantMembershipFactory(merchant=merchant, user=user)
    admin_login(user)

    conversions = client.get(CONVERSIONS)
    reports = client.get(REPORTS)

    assert listed_ids(conversions) == [conversion_report.pk]
    assert [report.conversion_id for report in reports.context["cl"].result_list] == [conversion_report.pk]
    assert client.get(f"{CONVERSIONS}{other.pk}/change/").status_code == 404
    own_page = client.get(f"{CONVERSIONS}{conversion_report.pk}/change/").content.decode()
    assert "THR-1" in own_page and "shopper@example.com" not in own_page
    assert f"#{shopper.pk}" in own_page
    assert "shopper@example.com" not in conversions.content.decode()


def test_finance_sees_a_conversion_with_its_raw_report_and_the_shopper(client, admin_login, conversion_report):
    admin_login(staff(FINANCE))

    page = client.get(f"{CONVERSIONS}{conversion_report.pk}/change/").content.decode()

    assert "shopper@example.com" in page
    assert "&quot;reference&quot;: &quot;THR-1&quot;" in page  # the body as sent, escaped
    assert "2000.00 INR" in page


def test_raw_reports_filter_by_outcome_and_error_code(client, admin_login, conversion_report):
    refused = ConversionReport.objects.create(body="x", outcome="refused", error_code="bad_signature")
    ConversionReport.objects.create(body="y", outcome="refused", error_code="stale_timestamp")
    admin_login(staff(FINANCE))

    by_code = client.get(REPORTS, {"error_code": "bad_signature"})
    accepted = client.get(REPORTS, {"outcome__exact": "accepted"})

    assert listed_ids(by_code) == [refused.pk]
    assert [row.conversion_id for row in accepted.context["cl"].result_list] == [conversion_report.pk]


# --- the review queue ----------------------------------------------------------------------------------------


def test_the_queue_is_confirmed_high_risk_riskiest_first_with_the_reasons(client, admin_login, paid_order):
    medium = queued(paid_order(), score=55)
    riskiest = queued(
        paid_order(),
        score=95,
        rules=[
            {"code": "shared_device", "weight": 60, "reason": "Device shared with 3 other accounts."},
            {"code": "large_amount", "weight": 35, "reason": "Cashback over 2000.00 INR."},
        ],
    )
    pending = order_entry(paid_order())
    admin_login(staff(FINANCE))

    queue = client.get(ENTRIES)
    everything = client.get(ENTRIES, {"queue": "all"})

    assert listed_ids(queue) == [riskiest.pk, medium.pk]
    assert (queue.context["title"], everything.context["title"]) == (
        "Cashback awaiting review, riskiest first",
        "All cashback entries",
    )
    html = queue.content.decode()
    assert "+60 Device shared with 3 other accounts." in html
    assert "+35 Cashback over 2000.00 INR." in html
    assert sorted(listed_ids(everything)) == sorted([riskiest.pk, medium.pk, pending.pk])
    assert client.get(f"{ENTRIES}review/").url == f"{ENTRIES}?queue=review"


def test_the_queue_costs_the_same_for_one_entry_or_many(client, admin_login, paid_order):
    admin_login(staff(FINANCE))
    queued(paid_order())
    client.get(ENTRIES)

    with CaptureQueriesContext(connection) as one:
        client.get(ENTRIES)
    for _ in range(5):
        queued(paid_order())
    with CaptureQueriesContext(connection) as many:
        response = client.get(ENTRIES)

    assert len(listed_ids(response)) == 6
    assert len(many) == len(one)


def test_approve_credits_the_wallet_exactly_and_is_audited(client, admin_login, shopper, paid_order):
    entry = queued(paid_order(), amount="40.00")
    finance = staff(FINANCE)
    admin_login(finance)

    response = run_action(client, ENTRIES, "approve_cashback", [entry.pk])

    assert page_messages(response) == [f"Approved and credited: {entry.pk}."]
    entry.refresh_from_db()
    assert entry.status == CashbackStatus.CREDITED
    assert balances(shopper) == (Decimal("40.00"), Decimal("0.00"), Decimal("0.00"))
    assert AuditEntry.objects.filter(action="cashback.approved", actor=finance, target_id=str(entry.pk)).count() == 1


def test_approving_an_entry_that_is_not_confirmed_is_the_services_message(client, admin_login, paid_order):
    pending = order_entry(paid_order())
    admin_login(staff(FINANCE))

    response = run_action(client, f"{ENTRIES}?queue=all", "approve_cashback", [pending.pk])

    assert response.status_code == 200
    assert page_messages(response) == [
        f"Cashback entry {pending.pk}: Only confirmed cashback can be approved; this is pending."
    ]
    pending.refresh_from_db()
    assert pending.status == CashbackStatus.PENDING


def test_reject_needs_a_reason_then_rejects_and_releases_the_pending_money(client, admin_login, shopper, paid_order):
    entry = queued(paid_order(), amount="40.00")
    admin_login(staff(FINANCE))

    form = run_action(client, ENTRIES, "reject_cashback", [entry.pk])
    blank = run_action(client, ENTRIES, "reject_cashback", [entry.pk], apply="yes", reason="   ")
    done = run_action(client, ENTRIES, "reject_cashback", [entry.pk], apply="yes", reason="Same card as 4 accounts.")

    assert 'name="reason"' in form.content.decode()
    assert blank.context["form"].errors == {"reason": ["This field is required."]}
    assert page_messages(done) == [f"Rejected: {entry.pk}."]
    entry.refresh_from_db()
    assert (entry.status, entry.reason) == (CashbackStatus.REJECTED, "Same card as 4 accounts.")
    assert balances(shopper) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert AuditEntry.objects.filter(action="cashback.rejected", target_id=str(entry.pk)).count() == 1


def test_support_cannot_approve_even_by_posting_the_action(client, admin_login, paid_order):
    entry = queued(paid_order())
    admin_login(staff(SUPPORT))

    response = run_action(client, ENTRIES, "approve_cashback", [entry.pk])

    assert response.status_code == 200  # Django answers an action the user may not run with "No action selected"
    entry.refresh_from_db()
    assert entry.status == CashbackStatus.CONFIRMED


def test_an_entrys_page_shows_its_history_and_assessments(client, admin_login, paid_order):
    entry = queued(paid_order())
    entry.events.create(from_status="pending", to_status="confirmed", note="Return window over")
    admin_login(staff(SUPPORT))

    html = client.get(f"{ENTRIES}{entry.pk}/change/").content.decode()

    assert "Return window over" in html
    assert "+80 Account 2 days old (under 7)." in html
    assert not any(button in html for button in SAVE_BUTTONS)


# --- wallets --------------------------------------------------------------------------------------------------


def adjust(client, wallet, **data):
    return client.post(f"{WALLETS}{wallet.pk}/adjust/", {"apply": "yes", **data}, follow=True)


def test_a_staff_adjustment_changes_the_balance_once_and_is_audited(client, admin_login, shopper, funded_wallet):
    wallet = funded_wallet("100.00")
    finance = staff(FINANCE)
    admin_login(finance)
    form = client.get(f"{WALLETS}{wallet.pk}/adjust/")
    key = form.context["form"].initial["key"]

    first = adjust(client, wallet, amount="-25.50", reason="Duplicate credit of order ORD-1", key=key)
    again = adjust(client, wallet, amount="-25.50", reason="Duplicate credit of order ORD-1", key=key)

    assert page_messages(first) == ["Adjusted by -25.50 INR; available now 74.50 INR."]
    assert page_messages(again) == [f"Wallet {wallet.pk}: This adjustment was already made."]
    assert balances(shopper)[0] == Decimal("74.50")
    rows = WalletEntry.objects.filter(wallet=wallet, actor=finance)
    assert [(row.kind, row.amount, row.reason) for row in rows] == [
        (WalletEntryKind.ADJUSTMENT, Decimal("-25.50"), "Duplicate credit of order ORD-1")
    ]
    assert AuditEntry.objects.filter(action="wallet.adjusted", actor=finance).count() == 1


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"amount": "10.00", "reason": " "}, {"reason": ["This field is required."]}),
        ({"amount": "0", "reason": "x"}, {"amount": ["An adjustment of zero changes nothing."]}),
        ({"amount": "1.234", "reason": "x"}, {"amount": ["Ensure that there are no more than 2 decimal places."]}),
        ({"amount": "1e3", "reason": "x"}, {"amount": ["Enter a plain amount, such as 250 or -25.50."]}),
        ({"amount": "NaN", "reason": "x"}, {"amount": ["Enter a plain amount, such as 250 or -25.50."]}),
        ({"amount": "5", "reason": "a\u202eb"}, {"reason": ["The text holds invisible or control characters."]}),
    ],
)
def test_an_adjustment_needs_a_reason_and_a_valid_amount(client, admin_login, shopper, funded_wallet, data, errors):
    wallet = funded_wallet("100.00")
    admin_login(staff(ADMIN))

    response = adjust(client, wallet, key="0b7f8a3c-3d53-4a9f-9a53-1f1f9a6f0d11", **data)

    assert {name: list(messages) for name, messages in response.context["form"].errors.items()} == errors
    assert balances(shopper)[0] == Decimal("100.00")


def test_support_sees_the_wallet_and_its_ledger_but_cannot_adjust(client, admin_login, shopper, funded_wallet):
    wallet = funded_wallet("100.00")
    admin_login(staff(SUPPORT))

    page = client.get(f"{WALLETS}{wallet.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "100.00 INR" in html and "test funding" in html
    assert "/adjust/" not in html
    assert (
        adjust(client, wallet, amount="5.00", reason="x", key="0b7f8a3c-3d53-4a9f-9a53-1f1f9a6f0d11").status_code == 403
    )
    assert balances(shopper)[0] == Decimal("100.00")


def test_the_ledger_inline_is_newest_first_and_paginated(client, admin_login, shopper, funded_wallet):
    for _ in range(25):
        wallet = funded_wallet("1.00")
    admin_login(staff(FINANCE))

    page = client.get(f"{WALLETS}{wallet.pk}/change/")

    formset = page.context["inline_admin_formsets"][0].formset
    assert [form.instance.balance_after for form in formset.forms][:3] == [
        Decimal("25.00"),
        Decimal("24.00"),
        Decimal("23.00"),
    ]
    assert len(formset.forms) == 20


# --- withdrawals ---------------------------------------------------------------------------------------------


def test_the_withdrawals_queue_puts_requests_first_and_masks_destinations(client, admin_login, shopper, funded_wallet):
    funded_wallet("1000.00")
    approved = withdrawal_held(user=shopper, status=WithdrawalStatus.APPROVED)
    first = withdrawal_held(user=shopper)
    second = withdrawal_held(user=shopper, method="bank")
    paid = withdrawal_held(user=shopper, status=WithdrawalStatus.PAID)
    admin_login(staff(SUPPORT))

    page = client.get(WITHDRAWALS)

    assert listed_ids(page) == [first.pk, second.pk, approved.pk, paid.pk]
    html = page.content.decode()
    assert "UPI pr***@okaxis" in html and "bank account XXXXXX9012 (HDFC0001234)" in html
    assert "priya.sharma@okaxis" not in html and "123456789012" not in html
    detail = client.get(f"{WITHDRAWALS}{second.pk}/change/").content.decode()
    assert "123456789012" not in detail


def test_finance_sees_the_full_destination_to_pay_it(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, method="bank")
    admin_login(staff(FINANCE))

    detail = client.get(f"{WITHDRAWALS}{withdrawal.pk}/change/").content.decode()

    assert "Bank account 123456789012, IFSC HDFC0001234, in the name of Priya Sharma" in detail


def test_approve_then_record_the_payout_consumes_the_hold(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    finance = staff(FINANCE)
    admin_login(finance)

    approved = run_action(client, WITHDRAWALS, "approve_withdrawals", [withdrawal.pk])
    form = run_action(client, WITHDRAWALS, "record_payout", [withdrawal.pk])
    paid = run_action(client, WITHDRAWALS, "record_payout", [withdrawal.pk], apply="yes", reference="UTR 4455/667")

    assert page_messages(approved) == [f"Approved: {withdrawal.pk}."]
    assert 'name="reference"' in form.content.decode()
    assert page_messages(paid) == [f"Paid: {withdrawal.pk}."]
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.provider_reference) == (WithdrawalStatus.PAID, "UTR 4455/667")
    assert balances(shopper) == (Decimal("300.00"), Decimal("0.00"), Decimal("0.00"))
    assert set(
        AuditEntry.objects.filter(actor=finance, action__startswith="withdrawal.").values_list("action", flat=True)
    ) == {
        "withdrawal.approved",
        "withdrawal.paid",
    }


def test_recording_a_payout_of_a_request_not_approved_is_refused(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    admin_login(staff(FINANCE))

    response = run_action(client, WITHDRAWALS, "record_payout", [withdrawal.pk], apply="yes", reference="UTR1")

    [message] = page_messages(response)
    assert message.startswith(f"Withdrawal {withdrawal.pk}: ")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REQUESTED
    assert balances(shopper) == (Decimal("300.00"), Decimal("0.00"), Decimal("200.00"))


def test_reject_needs_a_reason_and_releases_the_hold(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    admin_login(staff(ADMIN))

    blank = run_action(client, WITHDRAWALS, "reject_withdrawals", [withdrawal.pk], apply="yes", reason="")
    done = run_action(client, WITHDRAWALS, "reject_withdrawals", [withdrawal.pk], apply="yes", reason="Name mismatch")

    assert blank.context["form"].errors == {"reason": ["This field is required."]}
    assert page_messages(done) == [f"Rejected (the money is back in the wallet): {withdrawal.pk}."]
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason) == (WithdrawalStatus.REJECTED, "Name mismatch")
    assert balances(shopper) == (Decimal("500.00"), Decimal("0.00"), Decimal("0.00"))


def test_mark_failed_releases_the_hold_of_an_approved_withdrawal(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00", status=WithdrawalStatus.APPROVED)
    admin_login(staff(FINANCE))

    done = run_action(client, WITHDRAWALS, "mark_failed", [withdrawal.pk], apply="yes", reason="Account closed")

    assert page_messages(done) == [f"Marked failed (the money is back in the wallet): {withdrawal.pk}."]
    assert balances(shopper) == (Decimal("500.00"), Decimal("0.00"), Decimal("0.00"))


def test_payouts_are_recorded_one_at_a_time(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    ids = [withdrawal_held(user=shopper, status=WithdrawalStatus.APPROVED).pk for _ in range(2)]
    admin_login(staff(FINANCE))

    response = run_action(client, WITHDRAWALS, "record_payout", ids)

    assert page_messages(response) == ["Record payouts one at a time: each has its own bank reference."]


# --- merchants' terms ------------------------------------------------------------------------------------------


def test_rotating_the_secret_shows_it_once_and_never_again(client, admin_login, merchant):
    terms = MerchantCashback.objects.create(merchant=merchant)
    finance = staff(FINANCE)
    admin_login(finance)

    rotated = run_action(client, TERMS, "rotate_secret", [terms.pk])

    terms.refresh_from_db()
    [message] = page_messages(rotated)
    assert terms.conversion_secret and terms.conversion_secret in message
    assert terms.conversion_secret not in client.get(TERMS).content.decode()
    assert terms.conversion_secret not in client.get(f"{TERMS}{terms.pk}/change/").content.decode()
    assert AuditEntry.objects.filter(action="conversion.secret_rotated", actor=finance).count() == 1


def test_the_cap_and_risk_flag_are_editable_and_audited_the_secret_is_not(client, admin_login, merchant):
    terms = MerchantCashback.objects.create(merchant=merchant, conversion_secret="s3cret")
    admin_login(staff(FINANCE))

    response = client.post(
        f"{TERMS}{terms.pk}/change/",
        {
            "max_cashback_per_order": "150.00",
            "flagged_risky": "on",
            "risk_note": "Chargebacks",
            "conversion_secret": "mine",
            "merchant": MerchantFactory().pk,
        },
    )

    assert response.status_code == 302
    terms.refresh_from_db()
    assert (terms.max_cashback_per_order, terms.flagged_risky, terms.conversion_secret) == (
        Decimal("150.00"),
        True,
        "s3cret",
    )
    assert terms.merchant_id == merchant.pk
    audit = AuditEntry.objects.get(action="cashback.terms_saved")
    assert audit.after["max_cashback_per_order"] == "150.00"


# --- nothing about money editable -----------------------------------------------------------------------------


def test_nothing_about_money_is_editable(client, admin_login, shopper, paid_order, funded_wallet):
    entry = queued(paid_order(), amount="40.00")
    ledger_credit(order_entry(paid_order(), amount="10.00", status=CashbackStatus.CONFIRMED))
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    wallet = Wallet.objects.get(user=shopper)
    row = wallet.entries.first()
    admin_login(staff(ADMIN))

    for url in (
        f"{ENTRIES}{entry.pk}/change/",
        f"{WALLETS}{wallet.pk}/change/",
        f"{LEDGER}{row.pk}/change/",
        f"{WITHDRAWALS}{withdrawal.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert not any(button in html for button in SAVE_BUTTONS), url
        assert 'name="amount"' not in html and 'name="status"' not in html, url
        assert client.post(url, {"amount": "1.00", "status": "credited"}).status_code == 403, url
    for url in (f"{ENTRIES}add/", f"{WALLETS}add/", f"{LEDGER}add/", f"{WITHDRAWALS}add/", f"{REPORTS}add/"):
        assert client.get(url).status_code == 403, url
    for url in (f"{ENTRIES}{entry.pk}/delete/", f"{WALLETS}{wallet.pk}/delete/", f"{LEDGER}{row.pk}/delete/"):
        assert client.get(url).status_code == 403, url
    entry.refresh_from_db()
    withdrawal.refresh_from_db()
    assert (entry.amount, entry.status) == (Decimal("40.00"), CashbackStatus.CONFIRMED)
    assert (withdrawal.amount, withdrawal.status) == (Decimal("200.00"), WithdrawalStatus.REQUESTED)
    assert balances(shopper) == (Decimal("310.00"), Decimal("40.00"), Decimal("200.00"))


# --- the dashboard --------------------------------------------------------------------------------------------


def test_finance_sees_the_cashback_cards(client, admin_login, shopper, paid_order, funded_wallet):
    queued(paid_order(), amount="40.00")
    queued(paid_order(), amount="2.50")
    funded_wallet("500.00")
    withdrawal_held(user=shopper, amount="150.00")
    ledger_credit(order_entry(paid_order(), amount="12.00", status=CashbackStatus.CONFIRMED))
    admin_login(staff(FINANCE))

    cards = {card.key: card for card in client.get("/admin/").context["dashboard_cards"]}

    review, withdrawals, credited = cards["cashback.review"], cards["cashback.withdrawals"], cards["cashback.credited"]
    assert review.data.figures[0].value == 2
    assert review.data.table.rows == (("INR", "42.50 INR"),)
    assert review.url == f"{ENTRIES}review/"
    assert (withdrawals.data.figures[0].value, withdrawals.data.table.rows) == (1, (("INR", "150.00 INR"),))
    assert (credited.data.figures[0].value, credited.data.table.rows) == (1, (("INR", "12.00 INR"),))


@pytest.mark.parametrize("role", [SUPPORT, CATALOG_MANAGER, MERCHANT_STAFF])
def test_other_roles_see_no_money_cards(client, admin_login, role):
    user = staff(role)
    if role == MERCHANT_STAFF:
        MerchantMembershipFactory(merchant=MerchantFactory(), user=user)
    admin_login(user)

    keys = {card.key for card in client.get("/admin/").context["dashboard_cards"]}

    assert not keys & {"cashback.review", "cashback.withdrawals", "cashback.credited"}


# --- the buttons on a row's page ---------------------------------------------------------------------------------


def test_an_entry_is_approved_from_its_page_with_a_note(client, admin_login, shopper, paid_order):
    entry = queued(paid_order(), amount="40.00")
    finance = staff(FINANCE)
    admin_login(finance)
    url = f"{ENTRIES}{entry.pk}/approve/"

    page = client.get(f"{ENTRIES}{entry.pk}/change/").content.decode()
    form = client.get(url)
    done = client.post(url, {"apply": "yes", "note": "Known shopper, called them"}, follow=True)

    assert url in page and f"{ENTRIES}{entry.pk}/reject/" in page
    assert 'name="note"' in form.content.decode() and "40.00 INR" in form.content.decode()
    assert done.redirect_chain == [(f"{ENTRIES}{entry.pk}/change/", 302)]
    assert page_messages(done) == ["Approved and credited 40.00 INR."]
    assert balances(shopper) == (Decimal("40.00"), Decimal("0.00"), Decimal("0.00"))
    audit = AuditEntry.objects.get(action="cashback.approved")
    assert (audit.actor, audit.after["note"]) == (finance, "Known shopper, called them")


def test_rejecting_from_the_page_needs_a_reason(client, admin_login, paid_order):
    entry = queued(paid_order())
    admin_login(staff(ADMIN))
    url = f"{ENTRIES}{entry.pk}/reject/"

    blank = client.post(url, {"apply": "yes", "reason": ""})
    done = client.post(url, {"apply": "yes", "reason": "Self-referral"}, follow=True)

    assert blank.status_code == 200 and blank.context["form"].errors == {"reason": ["This field is required."]}
    assert page_messages(done) == ["Rejected."]
    entry.refresh_from_db()
    assert (entry.status, entry.reason) == (CashbackStatus.REJECTED, "Self-referral")


def test_approving_twice_from_the_page_shows_the_services_refusal(client, admin_login, paid_order):
    entry = queued(paid_order())
    admin_login(staff(FINANCE))
    url = f"{ENTRIES}{entry.pk}/approve/"

    first = client.post(url, {"apply": "yes"}, follow=True)
    again = client.post(url, {"apply": "yes"}, follow=True)

    assert page_messages(first) == ["Approved and credited 40.00 INR."]
    assert page_messages(again) == [
        f"Cashback entry {entry.pk}: Only confirmed cashback can be approved; this is credited."
    ]
    assert WalletEntry.objects.filter(cashback_entry=entry).count() == 1


def test_support_has_no_buttons_and_cannot_post_them(client, admin_login, shopper, paid_order, funded_wallet):
    entry = queued(paid_order())
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper)
    admin_login(staff(SUPPORT))

    entry_page = client.get(f"{ENTRIES}{entry.pk}/change/").content.decode()
    withdrawal_page = client.get(f"{WITHDRAWALS}{withdrawal.pk}/change/").content.decode()

    assert "/approve/" not in entry_page and "/reject/" not in entry_page
    assert "/approve/" not in withdrawal_page and "/paid/" not in withdrawal_page
    assert client.post(f"{ENTRIES}{entry.pk}/approve/", {"apply": "yes"}).status_code == 403
    assert client.post(f"{WITHDRAWALS}{withdrawal.pk}/approve/", {"apply": "yes"}).status_code == 403
    entry.refresh_from_db()
    withdrawal.refresh_from_db()
    assert (entry.status, withdrawal.status) == (CashbackStatus.CONFIRMED, WithdrawalStatus.REQUESTED)


def test_a_withdrawal_is_approved_and_paid_from_its_page(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00")
    admin_login(staff(FINANCE))
    base = f"{WITHDRAWALS}{withdrawal.pk}"

    confirm = client.get(f"{base}/approve/")
    approved = client.post(f"{base}/approve/", {"apply": "yes"}, follow=True)
    paid = client.post(f"{base}/paid/", {"apply": "yes", "reference": "UTR998877"}, follow=True)

    assert "UPI pr***@okaxis" in confirm.content.decode()
    assert page_messages(approved) == ["Approved."]
    assert page_messages(paid) == ["Paid, reference UTR998877."]
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.provider_reference) == (WithdrawalStatus.PAID, "UTR998877")
    assert balances(shopper) == (Decimal("300.00"), Decimal("0.00"), Decimal("0.00"))


def test_a_withdrawal_payout_fails_from_its_page(client, admin_login, shopper, funded_wallet):
    funded_wallet("500.00")
    withdrawal = withdrawal_held(user=shopper, amount="200.00", status=WithdrawalStatus.APPROVED)
    admin_login(staff(FINANCE))

    failed = client.post(
        f"{WITHDRAWALS}{withdrawal.pk}/failed/", {"apply": "yes", "reason": "Bank bounced"}, follow=True
    )

    assert page_messages(failed) == ["Marked failed: the money is back in the wallet."]
    assert balances(shopper) == (Decimal("500.00"), Decimal("0.00"), Decimal("0.00"))


def test_a_page_button_for_an_unknown_row_is_a_404(client, admin_login):
    admin_login(staff(FINANCE))

    assert client.get(f"{ENTRIES}999999/approve/").status_code == 404
    assert client.get(f"{WITHDRAWALS}abc/reject/").status_code == 404
    assert client.get(f"{WALLETS}999999/adjust/").status_code == 404


# --- roles and query budgets --------------------------------------------------------------------------------------


def cashback_permissions(role: str) -> list[str]:
    group = Group.objects.get(name=role)
    return sorted(group.permissions.filter(content_type__app_label="cashback").values_list("codename", flat=True))


def test_each_role_holds_exactly_its_cashback_permissions():
    records = [
        "view_cashbackentry",
        "view_cashbackentryevent",
        "view_riskassessment",
        "view_wallet",
        "view_walletentry",
        "view_withdrawal",
    ]
    desk = sorted(
        [
            *records,
            "view_conversion",
            "view_conversionreport",
            "view_merchantcashback",
            "add_merchantcashback",
            "change_merchantcashback",
            "change_wallet",
            "review_cashbackentry",
            "review_withdrawal",
        ]
    )

    assert cashback_permissions(ADMIN) == desk
    assert cashback_permissions(FINANCE) == desk
    assert cashback_permissions(SUPPORT) == sorted(records)
    assert cashback_permissions(MERCHANT_STAFF) == ["view_conversion", "view_conversionreport"]
    assert cashback_permissions(CATALOG_MANAGER) == []


def _rows(shopper, merchant, paid_order, number: int) -> None:
    for index in range(number):
        entry = queued(paid_order(), amount="10.00")
        ledger_credit(order_entry(paid_order(), amount="200.00", status=CashbackStatus.CONFIRMED))
        ledger_credit(order_entry(paid_order(user=UserFactory()), amount="5.00", status=CashbackStatus.CONFIRMED))
        withdrawal_held(user=shopper, amount="100.00", method="bank" if index % 2 else "upi")
        conversion = conversion_entry(user=UserFactory(), merchant=merchant, reference=f"R-{entry.pk}").conversion
        ConversionReport.objects.create(merchant=merchant, conversion=conversion, body="{}", outcome="accepted")


@pytest.mark.parametrize("url", [f"{ENTRIES}?queue=all", WITHDRAWALS, WALLETS, LEDGER, CONVERSIONS, REPORTS])
def test_each_list_costs_the_same_for_one_row_or_many(client, admin_login, shopper, merchant, paid_order, url):
    admin_login(staff(FINANCE))
    _rows(shopper, merchant, paid_order, 1)
    client.get(url)  # sessions and permissions warmed up
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    _rows(shopper, merchant, paid_order, 4)

    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 4
    assert len(many) == len(one)


@pytest.mark.parametrize(
    "url", [ENTRIES, EVENTS, ASSESSMENTS, WALLETS, LEDGER, WITHDRAWALS, CONVERSIONS, REPORTS, TERMS]
)
@pytest.mark.parametrize("term", ["abc", "12", "\u202e%_", "x" * 500, "\x00"])
def test_any_search_term_answers_a_list(client, admin_login, url, term):
    admin_login(staff(FINANCE))

    assert client.get(url, {"q": term}).status_code == 200


def test_the_wallet_page_links_to_its_whole_ledger(client, admin_login, shopper, funded_wallet):
    wallet = funded_wallet("10.00")
    funded_wallet("20.00")
    funded_wallet("5.00", user=UserFactory())
    admin_login(staff(SUPPORT))

    page = client.get(f"{WALLETS}{wallet.pk}/change/").content.decode()
    ledger = client.get(LEDGER, {"wallet__id__exact": wallet.pk})

    assert f"{LEDGER}?wallet__id__exact={wallet.pk}" in page
    assert [row.balance_after for row in ledger.context["cl"].result_list] == [Decimal("30.00"), Decimal("10.00")]
