"""The agent dashboard (/app/)."""
urlpatterns: list = []
