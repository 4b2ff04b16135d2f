"""A private Mosquitto per test module (dynamic-security plugin), and MQTT_URL pointing at it."""
from __future__ import annotations

import pytest

from push.mqtt.broker import reset_admin
from tests.conftest import skip_without_service
from tests.own_mosquitto import OwnMosquitto, missing


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
