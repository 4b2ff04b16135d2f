"""The visitor widget, the agent dashboard and the demo host page."""
from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"
    verbose_name = "Frontend"
