"""Everything that leaves the system: sockets, long-poll, presence, notifications, webhooks."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PushConfig(AppConfig):
    name = "push"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        from config import shutdown_hooks
        from push import draining, hub, presence, wakeups
        from support import online_agents
        from support.events import fanout

        # The events core publishes its after-commit wake-ups on the bus this app serves.
        fanout.use_bus(publish=hub.publish_sync, publish_on_loop=wakeups.publish_on_loop)
        # The domain's auto-assignment and the REST API ask who is online; presence is tracked here.
        online_agents.use(presence.online_agent_ids, presence=presence.agents_presence)
        # A stopping server (`manage.py serve`) answers the long-polls waiting in this process at once.
        shutdown_hooks.register(draining.begin)
        # ... and publishes the inbox rows its hub holds (paced, push/wakeups.py) now, not never.
        shutdown_hooks.register(hub.stop_pacing)
