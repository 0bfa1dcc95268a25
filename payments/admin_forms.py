"""The form of the payments back office's "Refund" action: an amount and a reason.

It checks only the input's shape (a positive amount with two places, a reason without control characters);
what may be refunded is the refund service's decision (``payments.services.refunds.refund_create``), so the
admin, the tasks and any API refuse the same things.
"""

from decimal import Decimal

from django import forms
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminTextareaWidget

from commerce.core.text import has_hidden_characters

from .models import Refund

REASON_MAX = Refund._meta.get_field("reason").max_length or 300


class RefundForm(forms.Form):
    """How much of the payment goes back, and why (kept on the refund and in the audit log)."""

    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=UnfoldAdminDecimalFieldWidget,
        help_text="In the payment's currency; at most what is left to refund.",
    )
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Kept with the refund and in the audit log.",
    )

    def clean_reason(self) -> str:
        value = self.cleaned_data["reason"].strip()
        if has_hidden_characters(value):
            raise forms.ValidationError("The reason holds invisible or control characters.", code="control_characters")
        return value
