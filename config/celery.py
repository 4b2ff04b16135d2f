"""The Celery app. Settings come from Django settings prefixed CELERY_ (config/settings.py).

Worker: ``celery -A config worker --pool solo`` (or prefork with ``-c N``); beat: ``celery -A
config beat``. The beat schedule sweeps the outbox every few seconds and prunes it daily.
"""
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init

from config.observability.logs import connect_celery
from config.observability.metrics import start_pool_sampler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Worker and beat log like the web processes: Django's LOGGING, each task in a log context of its own.
connect_celery()
# Each prefork child samples its own database pool for /metrics.
worker_process_init.connect(lambda **kwargs: start_pool_sampler(), weak=False)
app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sweep = settings.OUTBOX_SWEEP_SECONDS
    sender.conf.beat_schedule = {
        **(sender.conf.beat_schedule or {}),
        # A sweep left queued longer than its period is useless: the next one is on its way.
        "outbox-sweep": {"task": "events.sweep_outbox", "schedule": float(sweep), "options": {"expires": sweep}},
        "outbox-prune": {"task": "events.prune_outbox", "schedule": crontab(hour=3, minute=17)},
    }
