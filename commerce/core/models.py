"""Abstract base models shared by every app: time stamps, and the append-only guard."""

from typing import Any

from django.db import models


class TimeStampedModel(models.Model):
    """Adds ``created_at`` (set once) and ``updated_at`` (set on every save)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a row of an append-only table (audit log, order events, the
    wallet ledger, ...)."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Refuses bulk changes: rows of an append-only table are only ever inserted. Subclass it to add filters."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be changed.")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{self.model.__name__} rows cannot be changed.")


class AppendOnlyModel(models.Model):
    """A row inserted once and never saved again nor deleted. The code guard; each table also gets a database
    trigger in its app's migrations (see ``cashback/migrations/0002_append_only_triggers.py``), so raw SQL is
    refused too."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or kwargs.get("force_update"):
            raise AppendOnlyError(f"{type(self).__name__} rows cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{type(self).__name__} rows cannot be deleted.")
