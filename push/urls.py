"""Long-poll transport routes (/rt/)."""
urlpatterns: list = []
