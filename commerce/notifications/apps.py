from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "commerce.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from commerce.core.health import register_queue_stat

        from . import dashboard
        from .selectors import notification_dead_letter_count

        register_queue_stat("dead_letter", notification_dead_letter_count)
        dashboard.register()
