"""The shopper's address book (``me/addresses``) and the address an order keeps.

:func:`address_clean` is the one validation of an address body, used by the address book and by checkout (a
typed-in ``shipping_address``), so both refuse the same input with the same messages: 400 ``invalid`` with
``fields`` naming every bad field. Rules, including the decisions the issue leaves open:

* **Fields**: ``name``, ``line1``, ``city``, ``state``, ``postal_code`` and ``phone`` are required; ``line2`` is
  optional (``""``); ``country`` is optional and defaults to ``IN``. Each must be a JSON string (a number, a
  list or ``null`` is refused, never coerced), at most as long as the model's column. Keys other than these
  (and ``is_default`` in the address book) are ignored, as DRF serializers ignore them.
* **Text** is trimmed, NFC-normalised (so one name is stored one way) and may not hold control characters,
  unassigned or private-use code points, or invisible formatting characters (bidirectional overrides, zero
  widths), except the zero-width joiner and non-joiner that Indic scripts need.
* **Country**: an ISO 3166-1 alpha-2 code, upper or lower case (stored upper case). Accepted: every country
  ``phonenumbers`` knows a numbering plan for (so the phone can be checked against it), less the codes that are
  not ISO 3166-1 countries (``AC``, ``TA``, ``XK``). Shipping restrictions, if a merchant has them, are not the
  address book's business.
* **Postal code**: for ``IN`` an Indian PIN code, six digits whose first is not 0 (``"560 025"`` is accepted
  and stored as ``560025``); elsewhere 2 to 10 letters, digits, spaces or hyphens (stored upper case).
* **Phone**: parsed with ``phonenumbers`` in the address's country (so a national number such as
  ``98123 45678`` works for ``IN``; ``+`` numbers of any country work everywhere), must be a valid number,
  and is stored in E.164 (``+919812345678``).

The address book:

* **One default per user**: the first address becomes the default whatever the body says; ``is_default: true``
  on another moves the default there (the old one is cleared first, in the same transaction). Turning the
  default off directly (``is_default: false`` on the default) is refused (400 ``fields.is_default``): set
  another address as the default instead. Deleting the default promotes the newest remaining address.
* **At most** :data:`MAX_ADDRESSES_PER_USER` addresses: one more is 409 ``address_limit``.
* **Concurrency**: every change locks the user's row (the per-user lock that also covers a user with no
  addresses yet) and then the user's address rows in primary-key order, re-reads them, and writes.
* Another user's or an unknown address is 404 ``not_found``.
* Address changes leave no audit row: the address book is the shopper's own data and moves no money; an order
  keeps a snapshot of the address it ships to, so later edits never change an order.

:func:`checkout_address` answers the snapshot an order keeps: a saved address by id (404 ``not_found`` for
another user's or an unknown id, as for every object of another user) or a typed-in address (cleaned here;
not saved to the address book).
"""

import re
import unicodedata
from typing import Any

import phonenumbers
from django.db import transaction

from accounts.models import User
from commerce.core.errors import Conflict, InvalidInput, NotFoundError

from ..models import ADDRESS_FIELDS, Address

MAX_ADDRESSES_PER_USER = 20
DEFAULT_COUNTRY = "IN"
REQUIRED_FIELDS = frozenset({"name", "line1", "city", "state", "postal_code", "phone"})
MAX_LENGTHS: dict[str, int] = {
    name: int(getattr(Address._meta.get_field(name), "max_length", 0)) for name in ADDRESS_FIELDS
}
# phonenumbers' regions that are not ISO 3166-1 countries: Ascension, Tristan da Cunha (reserved), Kosovo.
_NOT_ISO_3166 = frozenset({"AC", "TA", "XK"})
COUNTRIES: frozenset[str] = (
    frozenset(region for region in phonenumbers.SUPPORTED_REGIONS if len(region) == 2 and region.isalpha())
    - _NOT_ISO_3166
)
_PIN_CODE = re.compile(r"[1-9][0-9]{5}")
_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")
# Zero-width non-joiner and joiner: format characters Indic scripts need to spell some words.
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

REQUIRED_MESSAGE = "This field is required."
NOT_TEXT_MESSAGE = "Not a valid string."
CONTROL_MESSAGE = "Must not contain control or invisible formatting characters."
PIN_MESSAGE = "Enter a 6-digit PIN code that does not start with 0."
POSTAL_MESSAGE = "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."
COUNTRY_MESSAGE = "Enter a two-letter ISO 3166-1 country code, e.g. IN."
PHONE_MESSAGE = "Enter a valid phone number, e.g. +919812345678."
DEFAULT_MESSAGE = "Must be true or false."
UNSET_DEFAULT_MESSAGE = "Make another address your default instead."


def _text(value: Any, *, name: str, errors: dict[str, list[str]]) -> str | None:
    """The trimmed, NFC text of one field, or ``None`` with a message in ``errors``."""
    if not isinstance(value, str):
        errors[name] = [NOT_TEXT_MESSAGE if value is not None else "This field may not be null."]
        return None
    text = unicodedata.normalize("NFC", value.strip())
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT for ch in text):
        errors[name] = [CONTROL_MESSAGE]
        return None
    if not text and name in REQUIRED_FIELDS:
        errors[name] = ["This field may not be blank."]
        return None
    if len(text) > MAX_LENGTHS[name] and name != "country":  # a country gets the country message
        errors[name] = [f"Ensure this field has no more than {MAX_LENGTHS[name]} characters."]
        return None
    return text


def _country(value: str | None, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    code = value.upper()
    if code not in COUNTRIES:
        errors["country"] = [COUNTRY_MESSAGE]
        return None
    return code


def _postal_code(value: str | None, country: str | None, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    if country == "IN":
        compact = value.replace(" ", "")
        if not _PIN_CODE.fullmatch(compact):
            errors["postal_code"] = [PIN_MESSAGE]
            return None
        return compact
    code = value.upper()
    if not _POSTAL_CODE.fullmatch(code):
        errors["postal_code"] = [POSTAL_MESSAGE]
        return None
    return code


def _phone(value: str | None, country: str | None, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, country or DEFAULT_COUNTRY)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors["phone"] = [PHONE_MESSAGE]
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_clean(*, data: dict[str, Any]) -> dict[str, str]:
    """Validate an address body; answer its snapshot (the keys of
    :data:`~commerce.orders.models.ADDRESS_FIELDS`, cleaned as the module describes), or raise 400 ``invalid``
    with ``fields`` holding a message for every bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("Send the address as a JSON object.", fields={"non_field_errors": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    texts: dict[str, str | None] = {}
    for name in ADDRESS_FIELDS:
        if name not in data:
            if name in REQUIRED_FIELDS:
                errors[name] = [REQUIRED_MESSAGE]
            texts[name] = DEFAULT_COUNTRY if name == "country" else ("" if name == "line2" else None)
            continue
        texts[name] = _text(data[name], name=name, errors=errors)
    country = _country(texts["country"], errors)
    # Postal code and phone are read in the address's country; with a bad country, IN's rules are not applied.
    texts["postal_code"] = _postal_code(texts["postal_code"], country or "", errors)
    texts["phone"] = _phone(texts["phone"], country, errors)
    texts["country"] = country
    if errors:
        first = next(iter(errors.values()))[0] if len(errors) == 1 else "Invalid address."
        raise InvalidInput(first, fields=errors)
    return {name: texts[name] or "" for name in ADDRESS_FIELDS}


def _clean_is_default(data: dict[str, Any]) -> bool | None:
    """``is_default`` of a body: ``None`` when absent; a JSON boolean otherwise (strings are refused)."""
    if "is_default" not in data:
        return None
    value = data["is_default"]
    if not isinstance(value, bool):
        raise InvalidInput(DEFAULT_MESSAGE, fields={"is_default": [DEFAULT_MESSAGE]})
    return value


def _lock_book(user: User) -> list[Address]:
    """Lock the user's row (the per-user lock, held even before a first address), then all the user's
    addresses in primary-key order, in one query; answer them newest first."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    rows = list(Address.objects.select_for_update().filter(user=user).order_by("pk"))
    return sorted(rows, key=lambda row: (row.created_at, row.pk), reverse=True)


def _not_found() -> NotFoundError:
    return NotFoundError("No such address.")


def _make_default(address: Address, book: list[Address]) -> None:
    """Move the default to ``address``: clear the old one first (the partial unique index holds per
    statement), then set it."""
    others = [row.pk for row in book if row.is_default and row.pk != address.pk]
    if others:
        Address.objects.filter(pk__in=others).update(is_default=False)
    address.is_default = True


def address_create(*, user: User, data: Any) -> Address:
    """Save a new address for ``user`` from a body as sent (validated here). The first becomes the default;
    ``is_default: true`` moves it here.
    409 ``address_limit`` past :data:`MAX_ADDRESSES_PER_USER`."""
    snapshot = address_clean(data=data)
    is_default = _clean_is_default(data)
    with transaction.atomic():
        book = _lock_book(user)
        if len(book) >= MAX_ADDRESSES_PER_USER:
            raise Conflict(
                f"You can keep at most {MAX_ADDRESSES_PER_USER} addresses; delete one first.", code="address_limit"
            )
        address = Address(user=user, **snapshot)
        if not book or is_default:
            _make_default(address, book)
        address.save()
    return address


def address_update(*, user: User, address_id: int, data: Any) -> Address:
    """Change some fields of one of ``user``'s addresses (the others keep their values; the result is validated
    as a whole). ``is_default: true`` makes it the default; ``false`` on the default is refused."""
    if not isinstance(data, dict):
        raise InvalidInput("Send the changes as a JSON object.", fields={"non_field_errors": ["Expected an object."]})
    is_default = _clean_is_default(data)
    with transaction.atomic():
        book = _lock_book(user)
        address = next((row for row in book if row.pk == address_id), None)
        if address is None:
            raise _not_found()
        merged: dict[str, Any] = {**address.as_snapshot(), **{k: v for k, v in data.items() if k in ADDRESS_FIELDS}}
        snapshot = address_clean(data=merged)
        if is_default is False and address.is_default:
            raise InvalidInput(UNSET_DEFAULT_MESSAGE, fields={"is_default": [UNSET_DEFAULT_MESSAGE]})
        changed = [name for name, value in snapshot.items() if getattr(address, name) != value]
        for name in changed:
            setattr(address, name, snapshot[name])
        if is_default and not address.is_default:
            _make_default(address, book)
            changed.append("is_default")
        if changed:
            address.save(update_fields=[*changed, "updated_at"])
    return address


def address_delete(*, user: User, address_id: int) -> None:
    """Delete one of ``user``'s addresses. Deleting the default makes the newest remaining one the default.
    Orders keep their own copy of the address, so deleting never changes an order."""
    with transaction.atomic():
        book = _lock_book(user)
        address = next((row for row in book if row.pk == address_id), None)
        if address is None:
            raise _not_found()
        address.delete()
        if address.is_default:
            remaining = [row for row in book if row.pk != address_id]
            if remaining:
                Address.objects.filter(pk=remaining[0].pk).update(is_default=True)


def checkout_address(*, user: User, address_id: int | None, shipping_address: dict[str, Any] | None) -> dict[str, str]:
    """The address snapshot an order keeps: one of ``user``'s saved addresses (404 ``not_found`` for another
    user's or an unknown id: never revealing that it exists) or a typed-in address, cleaned by
    :func:`address_clean` (its ``fields`` errors name the address's own fields). Exactly one must be given
    (400 otherwise). A typed-in address is not saved to the address book."""
    if (address_id is None) == (shipping_address is None):
        message = "Give either address_id or shipping_address." if address_id is None else "Give only one of them."
        raise InvalidInput(message, fields={"address_id": [message], "shipping_address": [message]})
    if shipping_address is not None:
        return address_clean(data=shipping_address)
    if isinstance(address_id, bool) or not isinstance(address_id, int):
        raise InvalidInput("A valid integer is required.", fields={"address_id": ["A valid integer is required."]})
    address = Address.objects.filter(user=user, pk=address_id).first()
    if address is None:
        raise _not_found()
    return address.as_snapshot()
