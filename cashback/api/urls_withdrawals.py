"""Routes of withdrawals (filled in by its view module)."""

urlpatterns: list = []
