"""Run an MQTT bridge: frames between the broker and the realtime protocol (several may run)."""
from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from push.hub import close_hub
from push.mqtt.bridge import Bridge
from push.mqtt.credentials import ensure_bridge_client


class Command(BaseCommand):
    help = "Serve MQTT clients through the broker in MQTT_URL (docs/protocol.md, \"MQTT\"). Stops on SIGTERM/SIGINT."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.MQTT_URL:
            raise CommandError("Set MQTT_URL (mqtt://ADMIN:PASSWORD@host:1883) to run the bridge")
        url = ensure_bridge_client()
        asyncio.run(self._serve(url))

    async def _serve(self, url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        bridge = Bridge(url=url)
        running = loop.create_task(bridge.run(stop))
        ready = loop.create_task(bridge.ready.wait())
        try:
            await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
            if ready.done():
                self.stdout.write(f"mqtt bridge {bridge.bridge_id} serving {settings.MQTT_URL.split('@')[-1]}")
                self.stdout.flush()
            else:
                ready.cancel()
            await running
        finally:
            # The inbox rows the hub still holds (paced, push/wakeups.py) and its last pipeline go out
            # before the process exits.
            await close_hub()
