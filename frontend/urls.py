"""Dashboard, widget and demo host page."""
from django.urls import include, path

urlpatterns = [
    path("app/", include("frontend.urls_dashboard")),
]
