"""The support domain: tenants, agents, contacts, conversations and messages."""
from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support"
