"""Forms of the cashback back office's actions: a reason (reject cashback, reject or fail a withdrawal), an optional
note (approve cashback), a confirmation (approve a withdrawal from its page), a payout reference (record a manual
payout) and a staff adjustment of a wallet.

They check only the input's shape (text without control characters, an amount with two places, a one-time key);
what may happen is the services' decision (``cashback.services``), so the admin, the tasks and the API refuse the
same things.
"""

import re
import uuid
from decimal import Decimal

from django import forms
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from commerce.core.money import MAX_AMOUNT
from commerce.core.text import has_hidden_characters

REASON_MAX = 300
REFERENCE_MAX = 100
# A UTR or bank reference: letters, digits and a few separators.
REFERENCE_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]*", re.ASCII)


def _clean_text(value: str) -> str:
    value = value.strip()
    if has_hidden_characters(value):
        raise forms.ValidationError("The text holds invisible or control characters.", code="control_characters")
    return value


class ReasonForm(forms.Form):
    """Why: kept on the entry or withdrawal, told to the shopper, and in the audit log."""

    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Shown to the shopper and kept in the audit log.",
    )

    def clean_reason(self) -> str:
        value = _clean_text(self.cleaned_data["reason"])
        if not value:
            raise forms.ValidationError("A reason is required.", code="required")
        return value


class ConfirmForm(forms.Form):
    """Nothing to fill in: the page asks to confirm, the POST confirms."""


class NoteForm(forms.Form):
    """An optional note, kept in the entry's history and the audit log."""

    note = forms.CharField(
        required=False,
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text="Optional; kept in the history and the audit log.",
    )

    def clean_note(self) -> str:
        return _clean_text(self.cleaned_data["note"])


class PayoutReferenceForm(forms.Form):
    """The bank's reference (UTR) of a payout made by hand."""

    reference = forms.CharField(
        max_length=REFERENCE_MAX,
        widget=UnfoldAdminTextInputWidget,
        help_text="The UTR or bank reference of the transfer you made.",
    )

    def clean_reference(self) -> str:
        value = _clean_text(self.cleaned_data["reference"])
        if not REFERENCE_SHAPE.fullmatch(value):
            raise forms.ValidationError("Use letters, digits, spaces and . _ / - only.", code="invalid")
        return value


class PlainDecimalField(forms.DecimalField):
    """A decimal as people type it (``-25.50``): ``Decimal`` would also take ``1e3``, ``NaN`` or ``1_000``."""

    PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)

    def to_python(self, value: object) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str) and value.strip() and not self.PLAIN.fullmatch(value.strip()):
            raise forms.ValidationError("Enter a plain amount, such as 250 or -25.50.", code="invalid")
        return super().to_python(value)


class WalletAdjustmentForm(forms.Form):
    """A staff adjustment: a signed amount, a reason the shopper sees in the ledger, and the form's one-time key
    (a double-submitted form adjusts once: the service refuses the key a second time)."""

    amount = PlainDecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=-MAX_AMOUNT,
        max_value=MAX_AMOUNT,
        widget=UnfoldAdminDecimalFieldWidget,
        help_text="Positive adds to the available balance, negative takes from it.",
    )
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Shown to the shopper in the wallet's history and kept in the audit log.",
    )
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("initial", {"key": uuid.uuid4()})
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_amount(self) -> Decimal:
        value: Decimal = self.cleaned_data["amount"]
        if value == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.", code="zero")
        return value

    def clean_reason(self) -> str:
        value = _clean_text(self.cleaned_data["reason"])
        if not value:
            raise forms.ValidationError("A reason is required.", code="required")
        return value
