"""The events core: the transactional outbox, its handler registry and dispatcher, and the wake-ups
published after commit. It depends on Django and the domain's models only; the apps on top (push,
billing, ...) register handlers in their ``outbox_handlers`` module and plug the wake-up bus in."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "support.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app registers its outbox handlers in <app>/outbox_handlers.py.
        autodiscover_modules("outbox_handlers")
