"""The shopper's cashback and wallet as JSON: the rows of ``GET cashback``, the body of ``GET wallet`` and the rows
of ``GET wallet/transactions``. Every amount is a money object (``{"amount": "499.00", "currency": "INR"}``).

``GET cashback`` rows
    ``amount`` is what the shopper gets (or got): the cashback less what refunds took back;
    ``original_amount`` what was earned at first. ``source`` is ``{"type": "order", "number"}`` or
    ``{"type": "conversion", "merchant" (the merchant's slug), "reference" (the merchant's sale id)}``;
    ``merchant`` is ``{"slug", "name"}``. ``expected_on`` is the day it should be confirmed (null until the order
    is delivered); ``reason`` why it was rejected or reversed (empty otherwise).

``GET wallet/transactions`` rows
    ``amount`` is the row's signed effect on the available balance, ``held_amount`` on the money held for
    withdrawals, ``balance_after`` the available balance right after it; ``description`` a sentence for people.

The serializers read only what :mod:`cashback.selectors` loads, so a page costs a fixed number of queries.
"""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from commerce.core.api.fields import MoneyField

from ..models import CashbackEntry, CashbackSource, CashbackStatus, WalletEntry, WalletEntryKind
from ..selectors import cashback_source, wallet_entry_description


class CashbackOrderSourceSerializer(serializers.Serializer[Any]):
    """Cashback earned on an order placed here."""

    type = serializers.ChoiceField(choices=[CashbackSource.ORDER.value], read_only=True)
    number = serializers.CharField(read_only=True, help_text="The order's number, e.g. ORD-7K3M9Q.")


class CashbackConversionSourceSerializer(serializers.Serializer[Any]):
    """Cashback earned on a purchase at a merchant's own shop, reported by the merchant."""

    type = serializers.ChoiceField(choices=[CashbackSource.CONVERSION.value], read_only=True)
    merchant = serializers.CharField(read_only=True, help_text="The merchant's slug.")
    reference = serializers.CharField(read_only=True, help_text="The merchant's own id of the sale.")


SOURCE_SCHEMA = PolymorphicProxySerializer(
    component_name="CashbackSource",
    serializers={"order": CashbackOrderSourceSerializer, "conversion": CashbackConversionSourceSerializer},
    resource_type_field_name="type",
)


class CashbackMerchantSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class CashbackEntrySerializer(serializers.ModelSerializer[CashbackEntry]):
    """One cashback entry of the shopper."""

    # A field named like Field.source: the metaclass takes it off the class, only the stubs object.
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    merchant = CashbackMerchantSerializer(read_only=True)
    amount = MoneyField(source="net_amount", help_text="What you get: the cashback less what refunds took back.")
    original_amount = MoneyField(source="amount", help_text="The cashback as first earned.")
    status = serializers.ChoiceField(choices=CashbackStatus.choices, read_only=True)

    class Meta:
        model = CashbackEntry
        fields = [
            "id",
            "source",
            "merchant",
            "amount",
            "original_amount",
            "status",
            "expected_on",
            "reason",
            "created_at",
            "credited_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SOURCE_SCHEMA)
    def get_source(self, entry: CashbackEntry) -> dict[str, str]:
        return cashback_source(entry)


class WalletSerializer(serializers.Serializer[Any]):
    """The wallet's balances. ``available`` may be negative when cashback already withdrawn was reversed;
    withdrawals are then refused until it is positive again."""

    available = MoneyField(help_text="Yours to withdraw or spend (the ledger's sum); may be negative.")
    pending = MoneyField(help_text="Cashback on its way: earned, not yet credited.")
    held = MoneyField(help_text="Set aside for withdrawals being paid out.")
    lifetime_earned = MoneyField(help_text="Cashback credited so far, less what refunds took back.")
    withdrawable = MoneyField(help_text="How much a withdrawal may take now: available, or zero when negative.")
    minimum_withdrawal = MoneyField(help_text="The smallest withdrawal allowed.")


class WalletTransactionSerializer(serializers.ModelSerializer[WalletEntry]):
    """One row of the wallet's ledger."""

    kind = serializers.ChoiceField(choices=WalletEntryKind.choices, read_only=True)
    amount = MoneyField(currency_field="wallet.currency", help_text="Signed change of the available balance.")
    held_amount = MoneyField(currency_field="wallet.currency", help_text="Signed change of the held balance.")
    balance_after = MoneyField(currency_field="wallet.currency", help_text="The available balance after it.")
    description = serializers.SerializerMethodField()

    class Meta:
        model = WalletEntry
        fields = ["id", "kind", "amount", "held_amount", "balance_after", "description", "created_at"]
        read_only_fields = fields

    def get_description(self, row: WalletEntry) -> str:
        return wallet_entry_description(row)
