from decimal import Decimal

import pytest
from django import forms
from django.http import QueryDict

from commerce.core.admin_widgets import (
    KeyValueField,
    KeyValueWidget,
    money_cell,
    money_text,
    percent_text,
    thumbnail,
    to_pairs,
)


class OptionsForm(forms.Form):
    options = KeyValueField(max_rows=3, max_key_length=8, max_value_length=10, extra_rows=2)


def rows(*pairs, name="options"):
    data = {}
    for index, (key, value) in enumerate(pairs):
        data[f"{name}_key_{index}"] = key
        data[f"{name}_value_{index}"] = value
    return data


def errors_of(*pairs):
    form = OptionsForm(data=rows(*pairs))
    assert not form.is_valid()
    return form.errors["options"]


def test_rows_clean_into_a_dict_of_text_and_blank_rows_are_ignored():
    form = OptionsForm(data=rows(("size", "M"), ("", ""), ("  colour ", " red "), ("", "")))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["options"] == {"size": "M", "colour": "red"}


def test_no_rows_posted_clean_to_an_empty_dict():
    form = OptionsForm(data={})

    assert form.is_valid()
    assert form.cleaned_data["options"] == {}


def test_rows_are_read_in_index_order_from_a_query_dict():
    data = QueryDict(mutable=True)
    data.update({"options_key_1": "b", "options_value_1": "2", "options_key_0": "a", "options_value_0": "1"})

    assert KeyValueWidget().value_from_datadict(data, {}, "options") == [("a", "1"), ("b", "2")]
    assert KeyValueWidget().value_omitted_from_data(data, {}, "options") is False
    assert KeyValueWidget().value_omitted_from_data({"options": "{}"}, {}, "options") is True


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((("", "M"),), "Row 1 has a value but no key."),
        ((("size", "M"), ("size", "L")), "The key “size” is used more than once."),
        ((("a" * 9, "M"),), "Row 1: the key has 9 characters; at most 8 are allowed."),
        ((("size", "x" * 11),), "Row 1: the value has 11 characters; at most 10 are allowed."),
        ((("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")), "Use at most 3 rows (4 filled)."),
        ((("si\x00ze", "M"),), "Row 1 contains a NUL character."),
    ],
    ids=["blank-key", "duplicate-key", "long-key", "long-value", "too-many-rows", "nul"],
)
def test_bad_rows_are_form_errors(pairs, message):
    assert errors_of(*pairs) == [message]


def test_every_bad_row_is_reported_with_its_row_number():
    assert errors_of(("size", "M"), ("", "x"), ("size", "L")) == [
        "Row 2 has a value but no key.",
        "The key “size” is used more than once.",
    ]


def test_the_widget_renders_the_stored_rows_and_blank_rows_to_add():
    form = OptionsForm(initial={"options": {"size": "M", "pack": 2}})

    html = str(form["options"])

    assert 'name="options_key_0" id="id_options_key_0" value="size"' in html
    assert 'name="options_value_0" id="id_options_value_0" value="M"' in html
    assert 'name="options_key_1" id="id_options_key_1" value="pack"' in html
    assert 'name="options_value_1" id="id_options_value_1" value="2"' in html
    assert 'name="options_key_3" id="id_options_key_3" value=""' in html
    assert 'name="options_key_4"' not in html
    assert 'maxlength="8" aria-label="Key 1"' in html
    assert 'maxlength="10" aria-label="Value 1"' in html
    assert '<label for="id_options_key_0">Options:</label>' in form["options"].label_tag()


def test_a_refused_form_shows_the_rows_as_posted_and_escaped():
    form = OptionsForm(data=rows(("size", '"><b>'), ("size", "L")))

    assert not form.is_valid()
    html = str(form["options"])
    assert 'name="options_value_0" id="id_options_value_0" value="&quot;&gt;&lt;b&gt;"' in html
    assert 'name="options_key_1" id="id_options_key_1" value="size"' in html


def test_has_changed_compares_the_cleaned_objects():
    field = KeyValueField()

    assert field.has_changed({"size": "M"}, [("size", "M"), ("", "")]) is False
    assert field.has_changed({}, [("", ""), ("", "")]) is False
    assert field.has_changed({"size": "M"}, [("size", "L")]) is True
    assert field.has_changed({}, [("", "orphan")]) is True


@pytest.mark.parametrize(
    ("value", "pairs"),
    [
        (None, []),
        ('{"size": "M"}', [("size", "M")]),
        ({"pack": 2, "tags": ["a"]}, [("pack", "2"), ("tags", '["a"]')]),
        ([1, 2, 3], [("", "[1, 2, 3]")]),
        ("not json", [("", "not json")]),
    ],
    ids=["none", "json-text", "non-text-values", "not-an-object", "not-json"],
)
def test_to_pairs(value, pairs):
    assert to_pairs(value) == pairs


def test_a_stored_value_that_is_not_an_object_is_refused_not_dropped():
    field = KeyValueField()

    with pytest.raises(forms.ValidationError) as raised:
        field.clean([1, 2, 3])
    assert raised.value.messages == ["Row 1 has a value but no key."]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("499"), "INR", "499.00 INR"),
        (Decimal("0.5"), "USD", "0.50 USD"),
        ("1234567.891", "EUR", "1234567.89 EUR"),
        (None, "INR", ""),
    ],
)
def test_money_text(amount, currency, text):
    assert money_text(amount, currency) == text


def test_money_cell_is_right_aligned_and_shows_a_dash_for_no_amount():
    assert money_cell(Decimal("499"), "INR") == '<span class="block text-right whitespace-nowrap">499.00 INR</span>'
    assert money_cell(None, "INR") == '<span class="block text-right whitespace-nowrap">-</span>'


@pytest.mark.parametrize(
    ("rate", "text"), [(Decimal("10.00"), "10 %"), (Decimal("12.50"), "12.5 %"), (Decimal("100"), "100 %")]
)
def test_percent_text(rate, text):
    assert percent_text(rate) == text


def test_thumbnail_escapes_and_has_alt_text():
    assert thumbnail("https://cdn.example.com/a.jpg?x=1&y=2", 'Red "kettle"') == (
        '<img src="https://cdn.example.com/a.jpg?x=1&amp;y=2" alt="Red &quot;kettle&quot;" width="40" height="40" '
        'loading="lazy" class="h-10 w-10 object-cover rounded-default">'
    )
    assert thumbnail("", "nothing") == "-"
