"""Dashboard, widget and demo host page."""
urlpatterns: list = []
