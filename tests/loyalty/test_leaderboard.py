"""Leaderboards: the database ranking (the reference), the Redis boards recorded entry by entry and rebuilt from
the ledger (they must agree with it), ties by who got there first, masking, period bounds, Redis down."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError

from commerce.core import redis_guard
from loyalty.models import PointsAccount, PointsEntry, PointsEntryKind
from loyalty.selectors import period_of
from loyalty.services import leaderboard as lb
from tests.factories import UserFactory

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # a Wednesday of ISO week 2026-W50


@pytest.fixture(autouse=True)
def _fresh_redis_guard():
    redis_guard.reset_state()
    yield
    redis_guard.reset_state()


@pytest.fixture
def no_redis(settings):
    settings.REDIS_URL = ""


def member(name: str = "", **kwargs) -> PointsAccount:
    user = UserFactory(full_name=name, **kwargs)
    return PointsAccount.objects.create(user=user, referral_code=f"T{user.pk:07d}")


_seq = iter(range(1, 10**9))


def post(account: PointsAccount, points: int, at: datetime, *, pending: bool = False, qualifying: bool = True):
    """A qualifying ledger row written directly (the balances are not what these tests are about)."""
    kind = PointsEntryKind.EARN_PENDING if pending else PointsEntryKind.EARN
    if points < 0:
        kind = PointsEntryKind.PENDING_REVERSAL if pending else PointsEntryKind.REVERSAL
    return PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=0 if pending else points,
        pending_points=points if pending else 0,
        balance_after=0,
        pending_after=0,
        held_after=0,
        qualifying=qualifying,
        key=f"lb-test:{next(_seq)}",
        created_at=at,
    )


def board(period: str = "week", *, user_id=None, size: int = 10, now: datetime = NOW) -> dict:
    return lb.leaderboard_read(period=period, user_id=user_id, size=size, now=now)


def ranks(result: dict) -> list[tuple[int, str, int]]:
    return [(e["rank"], e["name"], e["points"]) for e in result["entries"]]


# --- names and periods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_name", "shown"),
    [
        ("Priya Sharma", "Priya S."),
        ("  Priya   Devi  sharma ", "Priya S."),
        ("Priya", "Priya"),
        ("", "Member #1234"),
        ("   ", "Member #1234"),
        ("Élodie ümlaut", "Élodie Ü."),
        ("प्रिया शर्मा", "प्रिया श."),
    ],
)
def test_display_names_are_masked(full_name, shown):
    assert lb.display_name(full_name=full_name, account_id=1234) == shown


def test_periods_are_the_iso_week_the_calendar_month_and_all_time():
    week = period_of(period="week", at=NOW)
    assert (week.label, week.starts_at, week.ends_at) == (
        "2026-W50",
        datetime(2026, 12, 7, tzinfo=UTC),
        datetime(2026, 12, 14, tzinfo=UTC),
    )
    month = period_of(period="month", at=NOW)
    assert (month.label, month.starts_at, month.ends_at) == (
        "2026-12",
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    # ISO week 1 of 2027 starts on Monday 4 January; 1 January 2027 (a Friday) is in 2026-W53.
    assert period_of(period="week", at=datetime(2027, 1, 1, tzinfo=UTC)).label == "2026-W53"
    assert period_of(period="all", at=NOW).starts_at is None


def test_an_unknown_period_is_invalid_input():
    from commerce.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        lb.leaderboard_read(period="year", user_id=None, size=10)
    assert raised.value.fields == {"period": ["One of: week, month, all."]}


# --- the database ranking --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_database_board_ranks_by_points_then_who_got_there_first(no_redis):
    priya, ravi, asha, nobody = member("Priya Sharma"), member("Ravi Kumar"), member(""), member("No Points")
    post(priya, 300, NOW - timedelta(hours=5))
    post(ravi, 200, NOW - timedelta(hours=6))
    post(ravi, 100, NOW - timedelta(hours=4))  # reaches 300 after Priya
    post(asha, 500, NOW - timedelta(hours=1), pending=True)  # pending points count
    post(nobody, 1000, NOW - timedelta(hours=1), qualifying=False)  # a staff adjustment does not

    result = board(user_id=ravi.user_id)

    assert result["period"] == "week"
    assert result["starts_at"] == datetime(2026, 12, 7, tzinfo=UTC)
    assert ranks(result) == [(1, f"Member #{asha.pk}", 500), (2, "Priya S.", 300), (3, "Ravi K.", 300)]
    assert result["me"] == {"rank": 3, "points": 300}
    assert board(user_id=nobody.user_id)["me"] is None


@pytest.mark.django_db
def test_me_is_given_outside_the_top_n(no_redis):
    accounts = [member(f"User {n}") for n in range(5)]
    for n, account in enumerate(accounts):
        post(account, 100 * (n + 1), NOW - timedelta(hours=1))

    result = board(user_id=accounts[0].user_id, size=2)

    assert [e["points"] for e in result["entries"]] == [500, 400]
    assert result["me"] == {"rank": 5, "points": 100}


@pytest.mark.django_db
def test_week_and_month_boundaries(no_redis):
    priya, ravi = member("Priya Sharma"), member("Ravi Kumar")
    post(priya, 100, datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=UTC))  # Sunday of W49
    post(priya, 10, datetime(2026, 12, 7, tzinfo=UTC))  # Monday 00:00 of W50
    post(ravi, 50, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))  # November, but ISO week W49
    post(ravi, -20, datetime(2026, 12, 8, tzinfo=UTC))  # a refund this week of points earned before

    assert ranks(board("week")) == [(1, "Priya S.", 10), (2, "Ravi K.", -20)]
    assert ranks(board("month")) == [(1, "Priya S.", 110), (2, "Ravi K.", -20)]
    assert ranks(board("all")) == [(1, "Priya S.", 110), (2, "Ravi K.", 30)]
    assert ranks(board("week", now=datetime(2026, 12, 6, 12, tzinfo=UTC))) == [(1, "Priya S.", 100), (2, "Ravi K.", 50)]
    assert ranks(board("month", now=datetime(2026, 11, 30, 12, tzinfo=UTC))) == [(1, "Ravi K.", 50)]


@pytest.mark.django_db
def test_the_current_period_follows_the_clock(no_redis):
    priya = member("Priya Sharma")
    post(priya, 100, datetime(2026, 12, 13, 23, 0, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 12, 13, 23, 30, tzinfo=UTC), tick=False):
        assert ranks(lb.leaderboard_read(period="week", user_id=None, size=10)) == [(1, "Priya S.", 100)]
    with time_machine.travel(datetime(2026, 12, 14, 0, 0, tzinfo=UTC), tick=False):
        assert lb.leaderboard_read(period="week", user_id=None, size=10)["entries"] == []


def test_without_redis_recording_and_rebuilding_do_nothing(no_redis):
    lb.leaderboard_record(entry_id=1)  # no query either: it would need the database
    assert lb.leaderboards_rebuild(now=NOW) == 0


# --- Redis -----------------------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db
def test_recorded_boards_rank_like_the_database_and_ties_go_to_who_got_there_first():
    priya, ravi, asha = member("Priya Sharma"), member("Ravi Kumar"), member("")
    entries = [
        post(ravi, 200, NOW - timedelta(hours=6)),
        post(ravi, 100, NOW - timedelta(hours=4)),
        post(priya, 300, NOW - timedelta(hours=5)),
        post(asha, 500, NOW - timedelta(hours=1), pending=True),
        post(asha, 0, NOW),  # moves nothing: not on any board because of it
    ]
    lb.leaderboards_rebuild(now=NOW - timedelta(days=1))  # the boards exist (empty this week)
    for entry in reversed(entries):  # tasks may run in any order
        lb.leaderboard_record(entry_id=entry.pk)

    result = board(user_id=ravi.user_id)

    assert ranks(result) == [(1, f"Member #{asha.pk}", 500), (2, "Priya S.", 300), (3, "Ravi K.", 300)]
    assert result["me"] == {"rank": 3, "points": 300}
    assert board(user_id=priya.user_id, size=1)["me"] == {"rank": 2, "points": 300}


@pytest.mark.redis
@pytest.mark.django_db
def test_recording_an_entry_twice_counts_it_once():
    priya = member("Priya Sharma")
    lb.leaderboards_rebuild(now=NOW)
    entry = post(priya, 120, NOW)
    lb.leaderboard_record(entry_id=entry.pk)
    lb.leaderboard_record(entry_id=entry.pk)
    assert ranks(board("all")) == [(1, "Priya S.", 120)]


@pytest.mark.redis
@pytest.mark.django_db
def test_the_redis_path_reads_no_database(django_assert_num_queries):
    priya = member("Priya Sharma")
    lb.leaderboard_record(entry_id=post(priya, 120, NOW).pk)
    lb.leaderboards_rebuild(now=NOW)
    with django_assert_num_queries(0):
        result = board(user_id=priya.user_id)
    assert result["me"] == {"rank": 1, "points": 120}


@pytest.mark.redis
@pytest.mark.django_db
def test_the_rebuild_command_restores_boards_equal_to_the_ledger():
    priya, ravi = member("Priya Sharma"), member("Ravi Kumar")
    post(priya, 100, NOW - timedelta(days=3))
    post(ravi, 150, NOW - timedelta(days=10))
    post(priya, 80, NOW - timedelta(minutes=1))
    lb.connection().flushdb()

    with time_machine.travel(NOW, tick=False):
        out = StringIO()
        call_command("loyalty_rebuild_leaderboards", stdout=out)
        assert out.getvalue() == "Leaderboards rebuilt: 2 members on the all-time board.\n"
        for period in ("week", "month", "all"):
            from_redis = lb.leaderboard_read(period=period, user_id=ravi.user_id, size=10)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(lb, "enabled", lambda: False)
                from_database = lb.leaderboard_read(period=period, user_id=ravi.user_id, size=10)
            assert from_redis == from_database
        assert ranks(lb.leaderboard_read(period="all", user_id=None, size=10)) == [
            (1, "Priya S.", 180),
            (2, "Ravi K.", 150),
        ]
        # Recording an entry the rebuild already counted changes nothing.
        lb.leaderboard_record(entry_id=PointsEntry.objects.filter(account=priya).latest("created_at").pk)
        assert ranks(lb.leaderboard_read(period="month", user_id=None, size=10)) == [(1, "Priya S.", 180)]


@pytest.mark.redis
@pytest.mark.django_db
def test_an_entry_committed_after_the_rebuilds_snapshot_is_not_lost():
    from loyalty.tasks.leaderboard import rebuild_leaderboards

    priya, ravi = member("Priya Sharma"), member("Ravi Kumar")
    post(priya, 100, NOW - timedelta(hours=1))
    late = post(ravi, 40, NOW - timedelta(minutes=1))  # after the snapshot below; its task ran on the old boards
    lb.leaderboard_record(entry_id=late.pk)

    assert lb.leaderboards_rebuild(now=NOW - timedelta(minutes=2)) == 1  # the snapshot: Priya only

    assert ranks(board()) == [(1, "Priya S.", 100), (2, "Ravi K.", 40)]
    lb.leaderboard_record(entry_id=late.pk)  # the task again: still once
    assert ranks(board()) == [(1, "Priya S.", 100), (2, "Ravi K.", 40)]
    with time_machine.travel(NOW, tick=False):
        assert rebuild_leaderboards.apply().get() == 2


@pytest.mark.redis
@pytest.mark.django_db
def test_a_missing_board_is_read_from_the_database_and_a_rebuild_queued(monkeypatch):
    priya = member("Priya Sharma")
    post(priya, 100, NOW - timedelta(hours=1))
    queued = []
    monkeypatch.setattr("loyalty.tasks.leaderboard.rebuild_leaderboards.delay", lambda: queued.append(1))

    assert ranks(board()) == [(1, "Priya S.", 100)]  # Redis is empty: not "nobody earned"
    assert ranks(board()) == [(1, "Priya S.", 100)]
    assert queued == [1]  # once, not per read


@pytest.mark.redis
@pytest.mark.django_db
def test_redis_down_reads_from_the_database_and_recording_is_skipped(monkeypatch):
    priya = member("Priya Sharma")
    lb.leaderboards_rebuild(now=NOW)
    entry = post(priya, 100, NOW - timedelta(hours=1))

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(lb, "connection", down)
    lb.leaderboard_record(entry_id=entry.pk)  # logged, not raised
    result = board(user_id=priya.user_id)
    assert ranks(result) == [(1, "Priya S.", 100)]
    assert result["me"] == {"rank": 1, "points": 100}


# --- random sequences: Redis agrees with the ledger ------------------------------------------------------------

_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # member
        st.integers(min_value=-300, max_value=600),  # points (negative: a refund's reversal)
        st.integers(min_value=0, max_value=60 * 24 * 45),  # minutes before NOW (about 6 weeks)
        st.booleans(),  # pending
    ),
    min_size=1,
    max_size=25,
)


@pytest.mark.redis
@pytest.mark.django_db
@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events, order=st.randoms(use_true_random=False))
def test_random_event_sequences_rank_the_same_in_redis_and_the_database(events, order):
    # The ledger is append-only: each example uses fresh members (the boards are compared member by member).
    lb.connection().flushdb()
    accounts = [member(f"Random {n} Person") for n in range(5)]
    entries = [
        post(accounts[who], points, NOW - timedelta(minutes=ago), pending=pending)
        for who, points, ago, pending in events
    ]
    lb.leaderboards_rebuild(now=NOW - timedelta(days=60))
    order.shuffle(entries)
    for entry in entries:
        lb.leaderboard_record(entry_id=entry.pk)

    def both(period: str, user_id: int) -> tuple[dict, dict]:
        from_redis = board(period, user_id=user_id, size=3)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(lb, "enabled", lambda: False)
            return from_redis, board(period, user_id=user_id, size=3)

    for period in ("week", "month", "all"):
        for account in accounts:
            from_redis, from_database = both(period, account.user_id)
            assert from_redis == from_database
    # And after a rebuild at NOW.
    lb.leaderboards_rebuild(now=NOW)
    for period in ("week", "month", "all"):
        from_redis, from_database = both(period, accounts[0].user_id)
        assert from_redis == from_database
