"""Routes of achievements (filled in by its view module)."""

urlpatterns: list = []
