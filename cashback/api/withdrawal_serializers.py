"""Shapes of ``wallet/withdrawals``: the request body (types and formats, documented with the exact patterns the
service enforces) and a withdrawal as the shopper sees it (destination masked, never the whole account number)."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commerce.core.api.fields import MoneyField
from commerce.core.errors import InvalidInput
from commerce.core.money import MAX_AMOUNT

from ..models import Withdrawal, WithdrawalMethod
from ..services.withdrawals import (
    ACCOUNT_NUMBER_PATTERN,
    AMOUNT_PATTERN,
    BANK_FIELDS,
    IFSC_INPUT_PATTERN,
    NAME_MAX_LENGTH,
    UPI_FIELDS,
    VPA_MAX_LENGTH,
    VPA_PATTERN,
    withdrawal_amount_parse,
    withdrawal_destination_masked,
)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": AMOUNT_PATTERN, "example": "250.00"},
            {"type": "number", "minimum": 0.01, "maximum": float(MAX_AMOUNT), "example": 250},
        ],
        "description": 'The amount to withdraw, in the wallet\'s currency: a string such as "250.00" or a number, '
        "with at most two decimal places; at least WITHDRAWAL_MINIMUM (100.00 by default).",
    }
)
class WithdrawalAmountField(serializers.Field[Decimal, Any, Any, Any]):
    """A string or a JSON number with at most two decimal places (see ``withdrawal_amount_parse``)."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return withdrawal_amount_parse(data)
        except InvalidInput as exc:
            raise serializers.ValidationError((exc.fields or {}).get("amount", [exc.detail])) from None

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


class WithdrawalInputSerializer(serializers.Serializer[Any]):
    """``{"amount", "method": "upi", "vpa"}`` or ``{"amount", "method": "bank", "account_number", "ifsc",
    "name"}``; the other method's fields are refused."""

    amount = WithdrawalAmountField()
    method = serializers.ChoiceField(choices=WithdrawalMethod.choices, help_text="upi or bank.")
    vpa = serializers.RegexField(
        VPA_PATTERN,
        required=False,
        max_length=VPA_MAX_LENGTH,
        trim_whitespace=False,
        help_text="UPI only: the UPI address (VPA) to pay, e.g. priya@okaxis.",
    )
    account_number = serializers.RegexField(
        ACCOUNT_NUMBER_PATTERN, required=False, trim_whitespace=False, help_text="Bank only: 9 to 18 digits."
    )
    ifsc = serializers.RegexField(
        IFSC_INPUT_PATTERN,
        required=False,
        trim_whitespace=False,
        help_text="Bank only: the branch's IFSC, e.g. HDFC0001234 (upper-cased).",
    )
    name = serializers.CharField(
        required=False, min_length=1, max_length=NAME_MAX_LENGTH, help_text="Bank only: the account holder's name."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        other = BANK_FIELDS if attrs["method"] == WithdrawalMethod.UPI else UPI_FIELDS
        refused = {
            field: [f"Not used for {attrs['method']} withdrawals; leave it out."] for field in other if field in attrs
        }
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class WithdrawalSerializer(serializers.ModelSerializer[Withdrawal]):
    """A withdrawal. ``status``: requested, approved, processing, paid, rejected or failed. ``destination`` is
    masked (``pr***@okaxis``, ``XXXXXX1234 (HDFC0001234)``); ``reference`` the bank or payout reference once
    known; ``utr`` the bank's transfer reference once paid (what the shopper's bank statement shows);
    ``failure_reason`` why it was rejected or failed (the money is then back in the wallet)."""

    amount = MoneyField()
    destination = serializers.SerializerMethodField()
    reference = serializers.CharField(source="provider_reference", read_only=True)

    class Meta:
        model = Withdrawal
        fields = [
            "id",
            "amount",
            "method",
            "destination",
            "status",
            "created_at",
            "paid_at",
            "reference",
            "utr",
            "failure_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(help_text="Masked: pr***@okaxis or XXXXXX1234 (HDFC0001234)."))
    def get_destination(self, withdrawal: Withdrawal) -> str:
        return withdrawal_destination_masked(withdrawal)


def withdrawal_payload(withdrawal: Withdrawal) -> dict[str, Any]:
    return dict(WithdrawalSerializer(withdrawal).data)
