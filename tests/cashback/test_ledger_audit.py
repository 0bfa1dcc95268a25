"""The wallet audit (``cashback.services.ledger_audit``), ``manage.py wallet_audit`` and the nightly task: wallets
built through the ledger service add up; rows written around the guards with raw SQL are caught and named."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from cashback.models import CashbackEntry, CashbackSource, CashbackStatus, Wallet, WalletEntry, WalletEntryKind
from cashback.services.ledger_audit import WalletMismatch, wallets_audit, wallets_audit_run
from cashback.services.wallet import wallet_lock, wallet_pending_change, wallet_post
from cashback.tasks.audit import AUDIT_CACHE_KEY, audit_wallets
from tests.cashback.conftest import wallet_fund
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)


def post(wallet: Wallet, kind: str, amount: str, key: str, held: str = "0.00") -> WalletEntry:
    with transaction.atomic():
        locked = wallet_lock(user_id=wallet.user_id)
        return wallet_post(wallet=locked, kind=kind, amount=Decimal(amount), held_amount=Decimal(held), key=key)


def busy_wallet(user) -> Wallet:
    """A wallet with every kind of movement: credit 150, reversal 20, hold 60 then paid, hold 30 then released,
    adjustment -5: available 65.00, held 0.00, lifetime earned 130.00."""
    wallet = wallet_fund(user=user, amount="0.01", key=f"seed:{user.pk}")
    post(wallet, WalletEntryKind.ADJUSTMENT, "-0.01", f"unseed:{user.pk}")
    post(wallet, WalletEntryKind.CASHBACK_CREDIT, "150.00", f"credit:{user.pk}")
    post(wallet, WalletEntryKind.CASHBACK_REVERSAL, "-20.00", f"reversal:{user.pk}")
    post(wallet, WalletEntryKind.WITHDRAWAL_HOLD, "-60.00", f"hold-1:{user.pk}", held="60.00")
    post(wallet, WalletEntryKind.WITHDRAWAL_PAID, "0.00", f"paid-1:{user.pk}", held="-60.00")
    post(wallet, WalletEntryKind.WITHDRAWAL_HOLD, "-30.00", f"hold-2:{user.pk}", held="30.00")
    post(wallet, WalletEntryKind.WITHDRAWAL_RELEASE, "30.00", f"release-2:{user.pk}", held="-30.00")
    post(wallet, WalletEntryKind.ADJUSTMENT, "-5.00", f"adjust:{user.pk}")
    wallet.refresh_from_db()
    return wallet


def pending_entry(*, user, merchant, order, amount: str, status: str = CashbackStatus.PENDING) -> CashbackEntry:
    """A cashback entry on its way, counted in the wallet's pending balance as the entries service does."""
    entry = CashbackEntry.objects.create(
        user=user,
        merchant=merchant,
        source=CashbackSource.ORDER,
        order=order,
        currency="INR",
        base_amount=Decimal("998.00"),
        rate=Decimal("5.00"),
        amount=Decimal(amount),
        status=status,
    )
    with transaction.atomic():
        wallet_pending_change(wallet=wallet_lock(user_id=user.pk), delta=Decimal(amount))
    return entry


def raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_wallets_built_through_the_service_add_up(shopper):
    wallet = busy_wallet(shopper)
    empty = Wallet.objects.create(user=UserFactory(), currency="INR")

    result = wallets_audit_run()

    assert (wallet.available, wallet.held, wallet.lifetime_earned) == (
        Decimal("65.00"),
        Decimal("0.00"),
        Decimal("130.00"),
    )
    assert result.checked == 2
    assert result.mismatches == []
    assert wallets_audit(wallet_ids=[empty.pk]) == []


def test_pending_is_the_uncredited_cashback_less_what_refunds_took_back(shopper, merchant, paid_order):
    first = pending_entry(user=shopper, merchant=merchant, order=paid_order(), amount="49.90")
    pending_entry(user=shopper, merchant=merchant, order=paid_order(), amount="10.00", status=CashbackStatus.CONFIRMED)
    CashbackEntry.objects.create(  # credited long ago: not pending, not counted
        user=shopper,
        merchant=merchant,
        source=CashbackSource.ORDER,
        order=paid_order(),
        currency="INR",
        base_amount=Decimal("100.00"),
        rate=Decimal("5.00"),
        amount=Decimal("5.00"),
        status=CashbackStatus.CREDITED,
    )
    # A partial refund of the first entry: 9.90 taken back, pending follows.
    raw("UPDATE cashback_cashbackentry SET reversed_amount = %s WHERE id = %s", ["9.90", first.pk])
    with transaction.atomic():
        wallet_pending_change(wallet=wallet_lock(user_id=shopper.pk), delta=Decimal("-9.90"))

    assert Wallet.objects.get(user=shopper).pending == Decimal("50.00")
    assert wallets_audit() == []


def test_a_pending_balance_that_does_not_match_the_entries_is_reported(shopper, merchant, paid_order):
    pending_entry(user=shopper, merchant=merchant, order=paid_order(), amount="49.90")
    wallet = Wallet.objects.get(user=shopper)
    raw("UPDATE cashback_wallet SET pending = %s WHERE id = %s", ["60.00", wallet.pk])

    assert wallets_audit() == [
        WalletMismatch(
            wallet_id=wallet.pk,
            user_id=shopper.pk,
            field="pending",
            recorded=Decimal("60.00"),
            expected=Decimal("49.90"),
        )
    ]


def test_a_balance_changed_around_the_service_is_reported(shopper):
    wallet = busy_wallet(shopper)
    last = WalletEntry.objects.filter(wallet=wallet).latest("pk")
    raw(
        "UPDATE cashback_wallet SET available = %s, held = %s, lifetime_earned = %s WHERE id = %s",
        ["195.00", "1.00", "230.00", wallet.pk],
    )

    assert wallets_audit() == [
        WalletMismatch(wallet.pk, shopper.pk, "available", Decimal("195.00"), Decimal("65.00")),
        WalletMismatch(wallet.pk, shopper.pk, "held", Decimal("1.00"), Decimal("0.00")),
        WalletMismatch(wallet.pk, shopper.pk, "lifetime_earned", Decimal("230.00"), Decimal("130.00")),
        WalletMismatch(wallet.pk, shopper.pk, "last_balance_after", Decimal("65.00"), Decimal("195.00"), last.pk),
        WalletMismatch(wallet.pk, shopper.pk, "last_held_after", Decimal("0.00"), Decimal("1.00"), last.pk),
    ]


def rogue_insert(wallet: Wallet, *, amount: str, balance_after: str, key: str) -> int:
    """A ledger row inserted with raw SQL, around the service (the append-only guard allows inserts)."""
    raw(
        "INSERT INTO cashback_walletentry (wallet_id, kind, amount, held_amount, balance_after, held_after, key,"
        " reason, created_at) VALUES (%s, %s, %s, 0, %s, 0, %s, '', %s)",
        [wallet.pk, WalletEntryKind.ADJUSTMENT, amount, balance_after, key, timezone.now()],
    )
    return WalletEntry.objects.get(key=key).pk


def test_a_rogue_ledger_row_breaks_the_sum_and_the_chain(shopper):
    wallet = busy_wallet(shopper)
    other = busy_wallet(UserFactory())
    rogue = rogue_insert(wallet, amount="500.00", balance_after="65.00", key="rogue")

    mismatches = wallets_audit()

    assert mismatches == [
        WalletMismatch(wallet.pk, shopper.pk, "available", Decimal("65.00"), Decimal("565.00")),
        WalletMismatch(wallet.pk, shopper.pk, "chain_balance_after", Decimal("65.00"), Decimal("565.00"), rogue),
    ]
    assert wallets_audit(wallet_ids=[other.pk]) == []


def test_a_row_that_agrees_with_the_wallet_but_not_with_the_row_before_it_breaks_the_chain(shopper):
    wallet = busy_wallet(shopper)
    # A row whose balance_after skips a step, with the wallet moved to match the sum: only the chain and the
    # newest row show it.
    rogue = rogue_insert(wallet, amount="10.00", balance_after="200.00", key="rogue-skip")
    raw("UPDATE cashback_wallet SET available = %s WHERE id = %s", ["75.00", wallet.pk])

    assert wallets_audit() == [
        WalletMismatch(wallet.pk, shopper.pk, "last_balance_after", Decimal("200.00"), Decimal("75.00"), rogue),
        WalletMismatch(wallet.pk, shopper.pk, "chain_balance_after", Decimal("200.00"), Decimal("75.00"), rogue),
    ]


def test_batches_cover_every_wallet_with_a_fixed_number_of_queries(django_assert_num_queries):
    users = [UserFactory() for _ in range(5)]
    wallets = [busy_wallet(user) for user in users]
    raw("UPDATE cashback_wallet SET held = %s WHERE id = %s", ["7.00", wallets[4].pk])

    # Three batches of 2, 2 and 1 wallets: four queries each (wallets, ledger sums, pending sums, chain).
    with django_assert_num_queries(12):
        result = wallets_audit_run(batch_size=2)

    assert result.checked == 5
    assert [(m.wallet_id, m.field) for m in result.mismatches] == [
        (wallets[4].pk, "held"),
        (wallets[4].pk, "last_held_after"),
    ]


def test_the_cost_does_not_grow_with_the_ledger(shopper, django_assert_num_queries):
    wallet = busy_wallet(shopper)
    for n in range(30):
        post(wallet, WalletEntryKind.CASHBACK_CREDIT, "1.10", f"more:{n}")

    with django_assert_num_queries(4):
        assert wallets_audit() == []


# --- manage.py wallet_audit ------------------------------------------------------------------------------------


def test_command_prints_the_summary_and_exits_zero_when_everything_adds_up(shopper):
    busy_wallet(shopper)
    busy_wallet(UserFactory())
    out = StringIO()

    call_command("wallet_audit", stdout=out)

    assert out.getvalue() == "Checked 2 wallets: 0 mismatches\n"


def test_command_names_the_tampered_wallet_and_exits_non_zero(shopper):
    wallet = busy_wallet(shopper)
    busy_wallet(UserFactory())
    rogue = rogue_insert(wallet, amount="500.00", balance_after="565.00", key="rogue")
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("wallet_audit", stdout=out)

    assert raised.value.returncode == 1
    assert str(raised.value) == "1 wallet does not add up: see the mismatches above."
    assert out.getvalue().splitlines() == [
        f"wallet {wallet.pk} (user {shopper.pk}): available is 65.00, expected 565.00",
        f"wallet {wallet.pk} (user {shopper.pk}): last_balance_after (ledger row {rogue}) is 565.00, expected 65.00",
        "Checked 2 wallets: 2 mismatches",
    ]


def test_command_checks_only_the_wallets_named(shopper):
    wallet = busy_wallet(shopper)
    other = busy_wallet(UserFactory())
    rogue_insert(other, amount="1.00", balance_after="66.00", key="rogue")
    out = StringIO()

    call_command("wallet_audit", "--wallet", str(wallet.pk), stdout=out)

    assert out.getvalue() == "Checked 1 wallet: 0 mismatches\n"


def test_command_refuses_a_wallet_that_does_not_exist():
    with pytest.raises(CommandError, match=r"^No wallet 999\.$"):
        call_command("wallet_audit", "--wallet", "999", stdout=StringIO())


def test_command_with_a_thousand_wallets_groups_the_digits(monkeypatch):
    from cashback.management.commands import wallet_audit
    from cashback.services.ledger_audit import WalletAuditResult

    monkeypatch.setattr(wallet_audit, "wallets_audit_run", lambda **kwargs: WalletAuditResult(1234, []))
    out = StringIO()

    call_command("wallet_audit", stdout=out)

    assert out.getvalue() == "Checked 1,234 wallets: 0 mismatches\n"


# --- the nightly task ----------------------------------------------------------------------------------------


def test_task_logs_each_mismatch_and_records_the_result(shopper, caplog):
    wallet = busy_wallet(shopper)
    rogue = rogue_insert(wallet, amount="5.00", balance_after="70.00", key="rogue")

    with time_machine.travel(NOW, tick=False), caplog.at_level("ERROR", logger="cashback.tasks.audit"):
        result = audit_wallets.apply().get()

    assert result == {"checked": 1, "mismatches": 2}
    assert [record.getMessage() for record in caplog.records] == [
        f"Wallet ledger mismatch: wallet {wallet.pk} (user {shopper.pk}): available is 65.00, expected 70.00",
        f"Wallet ledger mismatch: wallet {wallet.pk} (user {shopper.pk}): last_balance_after (ledger row {rogue}) "
        "is 70.00, expected 65.00",
    ]
    assert cache.get(AUDIT_CACHE_KEY) == {"checked": 1, "mismatches": 2, "finished_at": NOW.timestamp()}


def test_task_records_a_clean_run(shopper, caplog):
    busy_wallet(shopper)

    with time_machine.travel(NOW, tick=False), caplog.at_level("ERROR"):
        assert audit_wallets() == {"checked": 1, "mismatches": 0}

    assert caplog.records == []
    assert cache.get(AUDIT_CACHE_KEY) == {"checked": 1, "mismatches": 0, "finished_at": NOW.timestamp()}


# --- PostgreSQL: a row changed behind the trigger --------------------------------------------------------------


@pytest.mark.postgres
def test_a_ledger_row_updated_with_the_trigger_disabled_is_caught(shopper):
    wallet = busy_wallet(shopper)
    credit = WalletEntry.objects.get(key=f"credit:{shopper.pk}")
    with connection.cursor() as cursor:
        # The deferred foreign-key checks of the rows just written must run before the table can be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE cashback_walletentry DISABLE TRIGGER cashback_walletentry_append_only")
        try:
            cursor.execute("UPDATE cashback_walletentry SET amount = 1500.00 WHERE id = %s", [credit.pk])
        finally:
            cursor.execute("ALTER TABLE cashback_walletentry ENABLE TRIGGER cashback_walletentry_append_only")
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("wallet_audit", stdout=out)

    assert out.getvalue().splitlines() == [
        f"wallet {wallet.pk} (user {shopper.pk}): available is 65.00, expected 1415.00",
        f"wallet {wallet.pk} (user {shopper.pk}): lifetime_earned is 130.00, expected 1480.00",
        f"wallet {wallet.pk} (user {shopper.pk}): chain_balance_after (ledger row {credit.pk}) is 150.00, "
        "expected 1500.00",
        "Checked 1 wallet: 3 mismatches",
    ]
