"""The append-only loyalty tables (the points ledger and tier changes) refuse every change and deletion: in code
(save again, delete, queryset update/delete/bulk_update/update_or_create) and in the database (triggers of migration
0002: raw UPDATE and DELETE on PostgreSQL, raw UPDATE on SQLite, whose test flush needs DELETE)."""

import pytest
from django.db import DatabaseError, connection, transaction

from commerce.core.models import AppendOnlyError
from loyalty.models import PointsEntry, PointsEntryKind, Tier, TierChange
from loyalty.services.ledger import points_account_lock, points_post

pytestmark = pytest.mark.django_db

MODELS = [PointsEntry, TierChange]
TEXT_FIELDS = {PointsEntry: "reason", TierChange: "reason"}
TABLES = {model: model._meta.db_table for model in MODELS}


@pytest.fixture
def rows(shopper):
    """One row of each append-only table."""
    with transaction.atomic():
        account = points_account_lock(user_id=shopper.pk)
        entry = points_post(account=account, kind=PointsEntryKind.EARN, points=100, key="event:first_order")
    change = TierChange.objects.create(
        account=account,
        from_tier=Tier.objects.get(code="bronze"),
        to_tier=Tier.objects.get(code="silver"),
        qualifying_points=1000,
        reason="Reached 1,000 points",
    )
    return {PointsEntry: entry, TierChange: change}


def snapshot(model) -> list[tuple]:
    return list(model.objects.order_by("pk").values_list())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_row_cannot_be_saved_again(rows, model):
    row = rows[model]
    before = snapshot(model)
    setattr(row, TEXT_FIELDS[model], "tampered")

    with pytest.raises(AppendOnlyError, match=f"^{model.__name__} rows cannot be changed\\.$"):
        row.save()
    with pytest.raises(AppendOnlyError):
        model.objects.get(pk=row.pk).save(update_fields=[TEXT_FIELDS[model]])
    with pytest.raises(AppendOnlyError):
        model.objects.get(pk=row.pk).save(force_update=True)

    assert snapshot(model) == before


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_row_cannot_be_deleted(rows, model):
    before = snapshot(model)

    with pytest.raises(AppendOnlyError, match=f"^{model.__name__} rows cannot be deleted\\.$"):
        rows[model].delete()

    assert snapshot(model) == before


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_querysets_refuse_bulk_changes(rows, model):
    before = snapshot(model)
    row = rows[model]
    queryset = model.objects.filter(pk=row.pk)

    with pytest.raises(AppendOnlyError):
        queryset.update(**{TEXT_FIELDS[model]: "tampered"})
    with pytest.raises(AppendOnlyError):
        queryset.delete()
    with pytest.raises(AppendOnlyError):
        model.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        model.objects.bulk_update([row], fields=[TEXT_FIELDS[model]])
    with pytest.raises(AppendOnlyError):
        model.objects.update_or_create(pk=row.pk, defaults={})

    assert snapshot(model) == before


def test_a_new_entry_is_always_inserted_never_an_update(rows):
    """``save()`` of a new instance that reuses an existing primary key fails instead of overwriting the row."""
    row = rows[PointsEntry]
    copy = PointsEntry(
        pk=row.pk,
        account_id=row.account_id,
        kind=PointsEntryKind.ADJUSTMENT,
        points=100000,
        balance_after=100100,
        pending_after=0,
        held_after=0,
        key="overwrite",
    )

    with pytest.raises(DatabaseError), transaction.atomic():
        copy.save()

    assert PointsEntry.objects.values_list("pk", "points", "key").get() == (row.pk, 100, "event:first_order")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_database_refuses_a_raw_update(rows, model):
    before = snapshot(model)
    table = TABLES[model]

    with (
        pytest.raises(DatabaseError, match=f"{table} is append-only: UPDATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET id = id WHERE id = %s", [rows[model].pk])  # noqa: S608

    assert snapshot(model) == before


@pytest.mark.postgres
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_postgres_refuses_a_raw_delete(rows, model):
    before = snapshot(model)
    table = TABLES[model]

    with (
        pytest.raises(DatabaseError, match=f"{table} is append-only: DELETE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [rows[model].pk])  # noqa: S608

    assert snapshot(model) == before


@pytest.mark.postgres
def test_postgres_refuses_a_raw_update_of_the_points_and_balance(rows):
    row = rows[PointsEntry]

    with (
        pytest.raises(DatabaseError, match="loyalty_pointsentry is append-only: UPDATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE loyalty_pointsentry SET points = 100000, balance_after = 100000 WHERE id = %s", [row.pk])

    assert PointsEntry.objects.values_list("points", "balance_after").get(pk=row.pk) == (100, 100)
