"""Routes of rewards (filled in by its view module)."""

urlpatterns: list = []
