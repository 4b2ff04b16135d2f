"""A private Mosquitto per test module (dynamic-security plugin), and MQTT_URL pointing at it."""
from __future__ import annotations

import asyncio

import pytest

from push.mqtt.broker import reset_admin
from tests.conftest import skip_without_service
from tests.own_mosquitto import OwnMosquitto, missing
from tests.realtime.conftest import realtime_settings  # noqa: F401 - a fixture, used by `bridge`


@pytest.fixture(scope="module")
def _module_broker(tmp_path_factory):
    if missing():
        yield None
        return
    broker = OwnMosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    reset_admin()
    broker.stop()


@pytest.fixture
def broker(request, _module_broker, settings) -> OwnMosquitto:
    reason = missing()
    if reason or _module_broker is None:
        skip_without_service(request.node, service="mqtt", reason=reason or "no broker")
    settings.MQTT_URL = _module_broker.url
    return _module_broker


@pytest.fixture
async def bridge(broker, realtime_settings):  # noqa: F811 - the imported fixture
    """An MQTT bridge in this test's event loop, sharing its (in-memory) channel layer."""
    from asgiref.sync import sync_to_async

    from push.mqtt.bridge import Bridge
    from push.mqtt.credentials import ensure_bridge_client

    url = await sync_to_async(ensure_bridge_client)()
    running = Bridge(url=url)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(running.run(stop))
    await asyncio.wait_for(running.ready.wait(), 10)
    yield running
    stop.set()
    await asyncio.wait_for(task, 10)
