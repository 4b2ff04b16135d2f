"""Web push subscriptions and notification preferences (/notifications/)."""
urlpatterns: list = []
