"""The Celery app. Settings come from Django settings prefixed CELERY_ (config/settings.py).

Worker: ``celery -A config worker --pool solo`` (or prefork with ``-c N``); beat: ``celery -A
config beat``. The beat schedule is ``CELERY_BEAT_SCHEDULE`` in config/settings.py ("Periodic work"),
with the outbox's sweep every few seconds and its daily prune.
"""
import os

from celery import Celery
from celery.signals import worker_process_init

from config.observability.db_pool import start_pool_sampler
from config.observability.logs import connect_celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Worker and beat log like the web processes: Django's LOGGING, each task in a log context of its own.
connect_celery()
# Each prefork child samples its own database pool for /metrics.
worker_process_init.connect(lambda **kwargs: start_pool_sampler(), weak=False)
app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
