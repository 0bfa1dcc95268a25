"""The append-only cashback tables (wallet ledger, entry history, risk assessments, raw conversion reports) refuse
every change and deletion: in code (save again, delete, queryset update/delete/bulk_update/update_or_create) and in
the database (triggers of migration 0002: raw UPDATE and DELETE on PostgreSQL, raw UPDATE on SQLite, whose test
flush needs DELETE)."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from cashback.models import (
    CashbackEntry,
    CashbackEntryEvent,
    CashbackSource,
    ConversionReport,
    ReportOutcome,
    RiskAssessment,
    WalletEntry,
    WalletEntryKind,
)
from cashback.services.wallet import wallet_lock, wallet_post
from commerce.core.models import AppendOnlyError

pytestmark = pytest.mark.django_db

MODELS = [WalletEntry, CashbackEntryEvent, RiskAssessment, ConversionReport]


@pytest.fixture
def rows(shopper, merchant, paid_order):
    """One row of each append-only table, written as the services write them."""
    entry = CashbackEntry.objects.create(
        user=shopper,
        merchant=merchant,
        source=CashbackSource.ORDER,
        order=paid_order(),
        currency="INR",
        base_amount=Decimal("998.00"),
        rate=Decimal("5.00"),
        amount=Decimal("49.90"),
    )
    with transaction.atomic():
        ledger_row = wallet_post(
            wallet=wallet_lock(user_id=shopper.pk),
            kind=WalletEntryKind.CASHBACK_CREDIT,
            amount=Decimal("49.90"),
            key=f"cashback-credit:{entry.pk}",
            cashback_entry=entry,
        )
    return {
        WalletEntry: ledger_row,
        CashbackEntryEvent: CashbackEntryEvent.objects.create(entry=entry, to_status="pending", note="created"),
        RiskAssessment: RiskAssessment.objects.create(
            entry=entry, score=10, level="low", rules=[{"code": "new_account", "weight": 10, "reason": "2 days"}]
        ),
        ConversionReport: ConversionReport.objects.create(
            body='{"click_id": "x"}', outcome=ReportOutcome.REFUSED, error_code="unknown_click"
        ),
    }


def snapshot(model) -> list[tuple]:
    return list(model.objects.order_by("pk").values_list())


def text_field(model) -> str:
    """A text column of the model (every append-only table has one) to try to change."""
    return next(f.attname for f in model._meta.concrete_fields if f.get_internal_type() == "CharField")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_row_cannot_be_saved_again(rows, model):
    row = rows[model]
    before = snapshot(model)
    setattr(row, text_field(model), "tampered")

    with pytest.raises(AppendOnlyError, match=f"^{model.__name__} rows cannot be changed\\.$"):
        row.save()
    with pytest.raises(AppendOnlyError):
        model.objects.get(pk=row.pk).save(update_fields=[text_field(model)])
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
        queryset.update(**{text_field(model): "tampered"})
    with pytest.raises(AppendOnlyError):
        queryset.delete()
    with pytest.raises(AppendOnlyError):
        model.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        model.objects.bulk_update([row], fields=[text_field(model)])
    with pytest.raises(AppendOnlyError):
        model.objects.update_or_create(pk=row.pk, defaults={})

    assert snapshot(model) == before


def test_a_new_row_is_always_inserted_never_an_update(rows):
    """``save()`` of a new instance that reuses an existing primary key fails instead of overwriting the row."""
    row = rows[WalletEntry]
    copy = WalletEntry(
        pk=row.pk,
        wallet_id=row.wallet_id,
        kind=WalletEntryKind.ADJUSTMENT,
        amount=Decimal("1000.00"),
        balance_after=Decimal("1049.90"),
        key="overwrite",
    )

    with pytest.raises(DatabaseError), transaction.atomic():
        copy.save()

    assert WalletEntry.objects.values_list("pk", "amount", "key").get() == (row.pk, Decimal("49.90"), row.key)


TABLES = {model: model._meta.db_table for model in MODELS}


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
def test_postgres_refuses_a_raw_update_of_the_amount_and_balance(rows):
    row = rows[WalletEntry]

    with (
        pytest.raises(DatabaseError, match="cashback_walletentry is append-only: UPDATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE cashback_walletentry SET amount = 4990.00, balance_after = 4990.00 WHERE id = %s", [row.pk]
        )

    assert WalletEntry.objects.values_list("amount", "balance_after").get(pk=row.pk) == (
        Decimal("49.90"),
        Decimal("49.90"),
    )
