"""Everything that leaves the system: sockets, long-poll, presence, outbox, notifications, webhooks."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PushConfig(AppConfig):
    name = "push"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app registers its outbox handlers in <app>/outbox_handlers.py.
        autodiscover_modules("outbox_handlers")
