"""The embedded default's Celery: a real worker (solo pool) and beat in threads of the server.

With no broker configured the product runs as one process on the in-memory broker
(``memory://``). This starts the same Celery worker and beat that production runs as separate
processes, so tasks, countdowns, retries and the outbox sweep behave as they do there — only
without durability of queued task messages, which the outbox does not need: its rows are the
queue and the sweep re-dispatches anything a lost task message would have.
"""
from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass

from celery import beat
from celery.worker import WorkController

from config.celery import app as celery_app

log = logging.getLogger(__name__)

_lock = threading.Lock()
_running: EmbeddedWorker | None = None


@dataclass
class EmbeddedWorker:
    worker: WorkController
    worker_thread: threading.Thread
    beat_service: threading.Thread

    stopped: bool = False

    def stop(self) -> None:
        """Stop beat, then the worker once its current task is done (tests; the server just exits)."""
        global _running
        if self.stopped:
            return
        self.stopped = True
        self.beat_service.stop()  # type: ignore[attr-defined]
        self.worker.stop(in_sighandler=False)
        self.worker_thread.join(timeout=10)
        with _lock:
            if _running is self:
                _running = None


def start_embedded_worker() -> EmbeddedWorker:
    """Start (once per process) a Celery worker thread and a beat thread; returns the handle."""
    global _running
    with _lock:
        if _running is not None:
            return _running
        celery_app.finalize()
        worker = celery_app.WorkController(
            hostname=f"embedded@{socket.gethostname()}",
            pool_cls="solo",
            concurrency=1,
            # The in-memory broker has no fanout for these cluster features; one worker needs none.
            without_mingle=True,
            without_gossip=True,
            without_heartbeat=True,
            loglevel=logging.INFO,
        )
        worker_thread = threading.Thread(target=worker.start, name="celery-embedded-worker", daemon=True)
        # The in-memory scheduler: nothing to persist, the schedule restarts with the process.
        beat_service = beat.EmbeddedService(celery_app, thread=True, scheduler_cls="celery.beat:Scheduler")
        worker_thread.start()
        beat_service.start()
        _running = EmbeddedWorker(worker, worker_thread, beat_service)
        log.info("Embedded Celery worker and beat started (broker %s)", celery_app.conf.broker_url)
        return _running
