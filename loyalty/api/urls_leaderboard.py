"""Routes of leaderboard (filled in by its view module)."""

urlpatterns: list = []
