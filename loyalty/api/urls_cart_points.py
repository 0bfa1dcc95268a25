"""Routes of cart_points (filled in by its view module)."""

urlpatterns: list = []
