"""Shoppers' saved searches."""

from typing import Any

from django.db import IntegrityError, transaction

from commerce.core.errors import Conflict, InvalidInput, NotFoundError

from ..models import SavedSearch

MAX_SAVED_SEARCHES_PER_USER = 50


def saved_search_create(*, user: Any, name: str, params: dict[str, Any]) -> SavedSearch:
    """Save a named search (already validated ``GET search`` parameters) for ``user``.

    409 ``duplicate_name`` if the user already has a search of that name, ``saved_search_limit`` past
    :data:`MAX_SAVED_SEARCHES_PER_USER`.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("A name is required.", fields={"name": ["This field may not be blank."]})
    with transaction.atomic():
        if SavedSearch.objects.filter(user=user).count() >= MAX_SAVED_SEARCHES_PER_USER:
            raise Conflict(
                f"You can keep at most {MAX_SAVED_SEARCHES_PER_USER} saved searches.", code="saved_search_limit"
            )
        if SavedSearch.objects.filter(user=user, name=name).exists():
            raise Conflict(f"You already have a saved search named {name!r}.", code="duplicate_name")
        try:
            with transaction.atomic():
                return SavedSearch.objects.create(user=user, name=name, params=params)
        except IntegrityError:  # a concurrent request saved the same name
            raise Conflict(f"You already have a saved search named {name!r}.", code="duplicate_name") from None


def saved_search_delete(*, user: Any, saved_search_id: int) -> None:
    """Delete one of the user's saved searches; another user's (or a missing) one is a 404."""
    deleted, _ = SavedSearch.objects.filter(user=user, pk=saved_search_id).delete()
    if not deleted:
        raise NotFoundError("No such saved search.")
