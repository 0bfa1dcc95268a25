"""Routes of wallet (filled in by its view module)."""

urlpatterns: list = []
