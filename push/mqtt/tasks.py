"""Periodic MQTT work: expired and revoked credentials leave the broker."""
from __future__ import annotations

from celery import shared_task

from push.mqtt import credentials


@shared_task(name="push.expire_mqtt_credentials", ignore_result=True)
def expire_mqtt_credentials() -> int:
    """Run by beat every 5 minutes; returns how many credentials were removed."""
    return credentials.expire()
