"""Routes of member (filled in by its view module)."""

urlpatterns: list = []
