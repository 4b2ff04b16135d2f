"""A process killed between recording a payment and provisioning its seats: after restart the seats
are provisioned, once. Real PostgreSQL, a real SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_scopes import scope

from billing.models import ProviderEvent, SeatChange, Subscription
from billing.subscriptions import start_trial
from support.events.dispatcher import drain
from support.events.models import OutboxDelivery
from tests.billing.conftest import stripe_event, stripe_signature
from tests.conftest import make_world

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHILD = textwrap.dedent("""
    import os, signal, sys, django
    django.setup()
    from django.test import Client
    from billing.models import Subscription
    from support.events.dispatcher import drain

    payload, signature = sys.argv[1].encode(), sys.argv[2]
    response = Client().post("/billing/stripe/webhook", data=payload, content_type="application/json",
                             HTTP_STRIPE_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    print("recorded", flush=True)

    def die(*args, **kwargs):
        # Mid-provisioning: inside the handler's transaction, before it commits.
        os.kill(os.getpid(), signal.SIGKILL)

    Subscription.save = die
    drain()
    print("unreachable", flush=True)
""")


def test_killed_between_payment_and_provisioning(require_postgres, tmp_path: Path):
    secret = "whsec_crash"
    world = make_world("crashco")
    start_trial(tenant=world.tenant)
    event = stripe_event("checkout.session.completed", {
        "id": "cs_crash", "customer": "cus_crash", "client_reference_id": world.tenant.public_id,
        "metadata": {"tenant": world.tenant.public_id, "plan": "pro", "seats": "9"},
    }, created=int(timezone.now().timestamp()), event_id="evt_crash")
    payload = json.dumps(event)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STRIPE_WEBHOOK_SECRET": secret,
        "CELERY_EMBEDDED_WORKER": "0",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    env.pop("TEST_DATABASE_NAME", None)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.run(
        [sys.executable, str(script), payload, stripe_signature(payload.encode(), secret=secret)],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert "recorded" in child.stdout and "unreachable" not in child.stdout

    # What the dead process left: the payment is recorded, the seats are not provisioned.
    assert ProviderEvent.objects.filter(event_id="evt_crash").count() == 1
    with scope(tenant=world.tenant):
        assert Subscription.objects.get().seats == 5
        assert OutboxDelivery.objects.filter(handler="billing.apply_provider_event", status="running").count() == 1

    # "Restart": once the dead worker's lease expires, the work is claimed again and completes.
    later = timezone.now() + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    drain(now=later)
    drain(now=later + timedelta(minutes=5))
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get()
        assert (sub.plan, sub.status, sub.seats) == ("pro", "active", 9)
        assert list(SeatChange.objects.values_list("delta", flat=True)) == [4]
