"""Forms of the orders back office's actions: the shipment of "Mark fulfilled" and the reason of "Cancel".

They only check the input's shape (lengths, no control characters); whether an order may move is the
transitions service's decision, so the admin, the API and the tasks refuse the same things.
"""

from django import forms
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from commerce.core.text import has_hidden_characters

from .models import Order, OrderEvent

CARRIER_MAX = Order._meta.get_field("carrier").max_length or 60
TRACKING_MAX = Order._meta.get_field("tracking_number").max_length or 80
REASON_MAX = OrderEvent._meta.get_field("note").max_length or 500


def _printable(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` trimmed; refused when it holds control or format characters (NUL, bidi overrides, zero-width
    joiners): they make a tracking number or a note read differently from what is stored. Line breaks are
    allowed in a multi-line note."""
    value = value.strip()
    if has_hidden_characters(value, multiline=multiline):
        raise forms.ValidationError(f"The {field} holds invisible or control characters.", code="control_characters")
    return value


class FulfilForm(forms.Form):
    """The shipment of one order: who carries it and the tracking number the shopper is told."""

    carrier = forms.CharField(
        max_length=CARRIER_MAX, help_text="e.g. Delhivery, Blue Dart, India Post", widget=UnfoldAdminTextInputWidget
    )
    tracking_number = forms.CharField(max_length=TRACKING_MAX, widget=UnfoldAdminTextInputWidget)

    def clean_carrier(self) -> str:
        return _printable(self.cleaned_data["carrier"], field="carrier")

    def clean_tracking_number(self) -> str:
        value = _printable(self.cleaned_data["tracking_number"], field="tracking number")
        if any(char.isspace() for char in value):
            raise forms.ValidationError("A tracking number has no spaces.", code="spaces")
        return value


class CancelForm(forms.Form):
    """Why the selected orders are cancelled: the note of each order's ``cancelled`` event, which the shopper sees."""

    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Shown to the shopper in the order's history, and kept there.",
    )

    def clean_reason(self) -> str:
        return _printable(self.cleaned_data["reason"], field="reason", multiline=True)
