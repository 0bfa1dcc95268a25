"""Routes of conversions (filled in by its view module)."""

urlpatterns: list = []
