"""Forms of the loyalty back office: the manual points adjustment of a member.

They check only the input's shape (a whole, non-zero number of points within bounds, a reason without control
characters, a one-time key); what may happen (enough available points, the key used once) is
:func:`loyalty.services.ledger.points_adjust`'s decision, so the admin and any other caller refuse the same.
"""

import re
import uuid

from django import forms
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextareaWidget

from commerce.core.text import has_hidden_characters

REASON_MAX = 300
# No single adjustment moves more than this many points either way (a typo's extra zeros are refused).
MAX_ADJUSTMENT_POINTS = 10_000_000


def _clean_text(value: str) -> str:
    value = value.strip()
    if has_hidden_characters(value):
        raise forms.ValidationError("The text holds invisible or control characters.", code="control_characters")
    return value


class PlainIntegerField(forms.IntegerField):
    """A whole number as people type it (``-250``): ``int()`` would also take ``1_000`` or full-width digits."""

    PLAIN = re.compile(r"[-+]?[0-9]+", re.ASCII)

    def to_python(self, value: object) -> int | None:
        if isinstance(value, str) and value.strip() and not self.PLAIN.fullmatch(value.strip()):
            raise forms.ValidationError("Enter a whole number of points, such as 250 or -100.", code="invalid")
        return super().to_python(value)


class PointsAdjustmentForm(forms.Form):
    """A manual adjustment: signed points, a reason the member sees in their history, and the form's one-time key
    (a double-submitted form adjusts once: the service refuses the key a second time)."""

    points = PlainIntegerField(
        min_value=-MAX_ADJUSTMENT_POINTS,
        max_value=MAX_ADJUSTMENT_POINTS,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Positive adds available points, negative takes them away (never below zero).",
    )
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Shown to the member in their points history and kept in the audit log.",
    )
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("initial", {"key": uuid.uuid4()})
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_points(self) -> int:
        value: int = self.cleaned_data["points"]
        if value == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.", code="zero")
        return value

    def clean_reason(self) -> str:
        value = _clean_text(self.cleaned_data["reason"])
        if not value:
            raise forms.ValidationError("A reason is required.", code="required")
        return value


class RewardForm(forms.ModelForm):
    """A reward as a setting. The table's CHECKs pass a NULL value (SQL's rule), so a discount coupon without a
    discount or a booster without a rate would be stored: the form asks for the figure the kind needs."""

    NEEDS = {"discount_coupon": "discount_value", "cashback_booster": "cashback_rate"}

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        needed = self.NEEDS.get(str(data.get("kind") or ""))
        if needed and data.get(needed) in (None, ""):
            self.add_error(needed, forms.ValidationError("This kind of reward needs it.", code="required"))
        return data
