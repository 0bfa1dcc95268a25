"""Notifications in the back office: read-only rows, filters, and re-sending dead letters.

Rows are never edited or deleted here: the record of what was sent must stay intact. The only write is the
"Re-send selected" action, which calls :func:`~commerce.notifications.services.notification_resend` for
failed (dead-letter) rows and skips every other row.
"""

import re

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from commerce.core.errors import Conflict

from .models import Notification
from .services import notification_resend

_DIGITS = re.compile(r"\d")


def _mask(notification: Notification, text: str) -> str:
    """Hide one-time codes from staff: every digit of a sensitive message is shown as a bullet."""
    return _DIGITS.sub("\u2022", text) if notification.is_sensitive else text


@admin.register(Notification)
class NotificationAdmin(ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "channel",
        "template",
        "recipient",
        "status",
        "attempts",
        "resend_count",
        "sent_at",
        "short_error",
    )
    list_filter = ("channel", "status", "template")
    search_fields = ("recipient", "=provider_message_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ["resend_selected"]
    fieldsets = (
        (None, {"fields": ("channel", "recipient", "user_id", "template")}),
        ("Content", {"fields": ("subject", "content", "html_content")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempts",
                    "resend_count",
                    "last_error",
                    "provider_message_id",
                    "claimed_at",
                    "next_attempt_at",
                    "sent_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    # Everything shown is read-only: the log records what was sent.
    readonly_fields = tuple(str(name) for _, options in fieldsets for name in options["fields"])

    @admin.display(description="Body")
    def content(self, obj: Notification) -> str:
        return _mask(obj, obj.body)

    @admin.display(description="HTML body")
    def html_content(self, obj: Notification) -> str:
        return _mask(obj, obj.html_body)

    @admin.display(description="Last error")
    def short_error(self, obj: Notification) -> str:
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "\u2026"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        # The change permission gates the re-send action; a single row is only ever viewed.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Re-send selected", permissions=["change"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        resent = skipped = 0
        for notification in queryset.order_by("pk"):
            try:
                notification_resend(notification=notification)
            except Conflict:
                skipped += 1
            else:
                resent += 1
        if resent:
            self.message_user(
                request,
                f"{resent} notification{'s' if resent != 1 else ''} queued for re-sending.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: only failed (dead-letter) notifications can be re-sent.",
                messages.WARNING,
            )
