"""Plan changes of a Stripe-billed tenant reach Stripe once, through the outbox (issue 7).

A local stand-in for Stripe's API keeps subscriptions and products, honours ``Idempotency-Key``
as Stripe does (a repeated key gets the first answer back, marked ``Idempotent-Replayed``, and
acts no second time) and can lose answers on purpose. Stripe's echo of each change is then
delivered as a signed webhook, twice and out of order, and must change nothing.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from copy import deepcopy
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from billing.dunning import GRACE_DAYS, dunning_sweep
from billing.models import PlanChange, SeatChange, Subscription
from billing.subscriptions import STRIPE_SYNC_EVENT, change_plan
from support.events.dispatcher import drain
from support.events.handlers import handler_named
from support.events.models import OutboxDelivery, OutboxEvent
from support.models import Membership
from tests.billing.conftest import stripe_event

SUB = "sub_test_1"


class StripeState:
    """What the stand-in knows, and what it was asked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.answers: dict[str, tuple[int, bytes]] = {}  # Idempotency-Key → the first answer
        self.requests: list[dict[str, Any]] = []
        self.applied: Counter[str] = Counter()  # Idempotency-Key → writes really made under it
        # Faults for the next writes to a subscription: "lose_answer" acts, then hangs up before
        # answering; "unreachable" hangs up without acting (the request never got through).
        self.faults: list[str] = []
        # Reads answer with this old state: two runs that both read before either wrote.
        self.frozen_reads: dict[str, dict[str, Any]] | None = None

    def add_subscription(self, *, plan: str, seats: int, unit_amount: int) -> None:
        self.subscriptions[SUB] = {
            "id": SUB, "object": "subscription", "customer": "cus_test_1", "status": "active",
            "metadata": {"plan": plan},
            "items": {"object": "list", "data": [{
                "id": "si_1", "object": "subscription_item", "quantity": seats,
                "price": {"id": "price_1", "object": "price", "unit_amount": unit_amount, "product": "prod_checkout"},
            }]},
        }

    def writes(self, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] in ({method} if method else {"POST", "DELETE"})
                and r["path"].startswith("/v1/subscriptions/")]

    def echo(self, *, created: int, event_id: str | None = None) -> dict:
        """Stripe's webhook for the subscription's current state."""
        obj = deepcopy(self.subscriptions[SUB])
        kind = "deleted" if obj["status"] == "canceled" else "updated"
        return stripe_event(f"customer.subscription.{kind}", obj, created=created, event_id=event_id)


class FakeStripeAPI(BaseHTTPRequestHandler):
    state: StripeState

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        state = self.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode() if length else url.query).items()}
        key = self.headers.get("Idempotency-Key")
        with state.lock:
            state.requests.append({"method": method, "path": url.path, "form": form, "key": key})
            if method == "GET":
                return self._send(*self._read(url.path))
            fault = state.faults.pop(0) if state.faults and url.path.startswith("/v1/subscriptions/") else None
            if fault == "unreachable":
                self.close_connection = True
                return None
            replayed = key in state.answers
            if key in state.answers:
                status, body = state.answers[key]
            else:
                status, body = self._write(method, url.path, form, key)
                if key:
                    state.answers[key] = (status, body)
            if fault == "lose_answer":
                self.close_connection = True
                return None
            return self._send(status, body, replayed=replayed)

    def _read(self, path: str) -> tuple[int, bytes]:
        state = self.state
        if path.startswith("/v1/subscriptions/"):
            subs = state.frozen_reads if state.frozen_reads is not None else state.subscriptions
            found = subs.get(path.rsplit("/", 1)[1])
        else:
            found = state.products.get(path.rsplit("/", 1)[1])
        return (200, json.dumps(found).encode()) if found else _missing(path)

    def _write(self, method: str, path: str, form: dict[str, str], key: str | None) -> tuple[int, bytes]:
        state = self.state
        if path == "/v1/checkout/sessions":
            return 200, json.dumps({"id": "cs_test_2", "object": "checkout.session",
                                    "url": "https://stripe.test/checkout/cs_test_2"}).encode()
        if path == "/v1/products":
            product = {"id": form["id"], "object": "product", "name": form["name"]}
            state.products[form["id"]] = product
            state.applied[key or ""] += 1
            return 200, json.dumps(product).encode()
        sub = state.subscriptions.get(path.rsplit("/", 1)[1])
        if sub is None:
            return _missing(path)
        if sub["status"] == "canceled":
            error = {"type": "invalid_request_error", "message": "A canceled subscription can only update its metadata"}
            return 400, json.dumps({"error": error}).encode()
        if method == "DELETE":
            sub["status"] = "canceled"
        else:
            item = sub["items"]["data"][0]
            assert form["items[0][id]"] == item["id"]
            item["quantity"] = int(form["items[0][quantity]"])
            item["price"] = {"id": f"price_{len(state.requests)}", "object": "price",
                             "unit_amount": int(form["items[0][price_data][unit_amount]"]),
                             "product": form["items[0][price_data][product]"]}
            sub["metadata"] = {"tenant": form["metadata[tenant]"], "plan": form["metadata[plan]"]}
        state.applied[key or ""] += 1
        return 200, json.dumps(sub).encode()

    def _send(self, status: int, body: bytes, *, replayed: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _missing(path: str) -> tuple[int, bytes]:
    return 404, json.dumps({"error": {"type": "invalid_request_error", "code": "resource_missing",
                                      "message": f"No such object: {path}"}}).encode()


@pytest.fixture
def stripe_api(settings):
    state = StripeState()
    handler = type("Handler", (FakeStripeAPI,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def checkout_event(world, *, created: int) -> dict:
    return stripe_event("checkout.session.completed", {
        "id": "cs_test_1", "customer": "cus_test_1", "subscription": SUB,
        "client_reference_id": world.tenant.public_id,
        "metadata": {"tenant": world.tenant.public_id, "plan": "pro", "seats": "3"},
    }, created=created)


@pytest.fixture
def two_members(world, subscribed):
    """Free allows two seats: with one of the three members gone, the owner may move there."""
    with scope(tenant=world.tenant):
        Membership.objects.filter(pk=world.agent2.pk).update(is_active=False)
    return world


@pytest.fixture
def on_stripe_pro(world, two_members, stripe_api, post_webhook):
    """A tenant that paid for Pro × 3 through Stripe Checkout a minute ago."""
    stripe_api.add_subscription(plan="pro", seats=3, unit_amount=3900)
    assert post_webhook(checkout_event(world, created=int(time.time()) - 60)).status_code == 200
    drain()
    sub = subscription(world)
    assert (sub.provider, sub.stripe_subscription_id, sub.plan, sub.status, sub.seats) == ("stripe", SUB, "pro",
                                                                                           "active", 3)
    return world


def subscription(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get()


def plan_changes(world) -> list[tuple[str, str, str, str, str]]:
    with scope(tenant=world.tenant):
        return [(c.from_plan, c.from_status, c.to_plan, c.to_status, c.source)
                for c in PlanChange.objects.order_by("at", "pk")]


def seat_deltas(world) -> list[int]:
    with scope(tenant=world.tenant):
        return list(SeatChange.objects.order_by("at", "pk").values_list("delta", flat=True))


def sync_events(world) -> list[OutboxEvent]:
    with scope(tenant=world.tenant):
        return list(OutboxEvent.objects.filter(type=STRIPE_SYNC_EVENT).order_by("pk"))


def deliver_echo_twice_and_a_stale_event(post_webhook, stripe_api, *, changed_at: int) -> None:
    """Stripe's echo of the change (dated after it), twice; before it, and again after it, a Stripe
    event from before the change (Pro × 3, active) that arrives late."""
    echo = stripe_api.echo(created=int(time.time()) + 1)
    stale = stripe_event("customer.subscription.updated", {
        "id": SUB, "customer": "cus_test_1", "status": "active",
        "items": {"data": [{"quantity": 3}]}, "metadata": {"plan": "pro"},
    }, created=changed_at - 30)
    for event in (stale, echo):
        assert post_webhook(event).status_code == 200
        drain()
    for event in (echo, stale):
        assert post_webhook(event).json() == {"received": True, "duplicate": True}
    drain()


def test_choosing_free_cancels_the_stripe_subscription_once(client, on_stripe_pro, stripe_api, post_webhook):
    world = on_stripe_pro
    client.force_login(world.owner.user)
    assert "Free cancels it at once" in client.get("/billing/").content.decode()
    changed_at = int(time.time())
    response = client.post("/billing/plan", {"plan": "free"})
    assert response.status_code == 302 and response["Location"] == "/billing/"  # no Checkout for Free
    assert (subscription(world).plan, subscription(world).status) == ("free", "active")
    [event] = sync_events(world)
    assert event.payload == {"tenant": world.tenant.public_id, "subscription": SUB, "action": "cancel",
                             "plan": "free", "seats": 2, "unit_amount": 0}
    drain()
    [cancel] = stripe_api.writes()
    assert (cancel["method"], cancel["path"], cancel["key"]) == ("DELETE", f"/v1/subscriptions/{SUB}", event.public_id)
    assert cancel["form"] == {"prorate": "true", "invoice_now": "true"}
    assert stripe_api.subscriptions[SUB]["status"] == "canceled"
    assert stripe_api.applied == Counter({event.public_id: 1})

    # Stripe's customer.subscription.deleted, and a late event from before the change.
    deliver_echo_twice_and_a_stale_event(post_webhook, stripe_api, changed_at=changed_at)
    sub = subscription(world)
    assert (sub.plan, sub.status, sub.seats) == ("free", "active", 2)
    assert plan_changes(world) == [
        ("pro", "trialing", "pro", "active", "stripe " + sub_checkout_id(world)),
        ("pro", "active", "free", "active", "owner"),
    ]
    assert seat_deltas(world) == [-2, -1]  # trial 5 → 3 (checkout) → 2 (Free's maximum)
    drain()
    assert len(stripe_api.writes()) == 1

    # With no running Stripe subscription left, a paid plan starts over at Checkout.
    stripe_api.requests.clear()
    response = client.post("/billing/plan", {"plan": "starter", "seats": "2"})
    assert response.status_code == 302 and response["Location"] == "https://stripe.test/checkout/cs_test_2"
    assert [r["path"] for r in stripe_api.requests] == ["/v1/checkout/sessions"]
    assert "Free cancels it at once" not in client.get("/billing/").content.decode()


def sub_checkout_id(world) -> str:
    from billing.models import ProviderEvent

    return ProviderEvent.objects.get(type="checkout.session.completed", tenant=world.tenant).event_id


def test_a_cheaper_plan_and_seats_update_the_stripe_item_once(client, on_stripe_pro, stripe_api, post_webhook):
    world = on_stripe_pro
    client.force_login(world.owner.user)
    changed_at = int(time.time())
    response = client.post("/billing/plan", {"plan": "starter", "seats": "4"})
    assert response.status_code == 302 and response["Location"] == "/billing/"  # changed here, not a new Checkout
    assert (subscription(world).plan, subscription(world).seats) == ("starter", 4)
    drain()
    [event] = sync_events(world)
    [update] = stripe_api.writes()
    assert (update["method"], update["path"], update["key"]) == ("POST", f"/v1/subscriptions/{SUB}", event.public_id)
    assert update["form"] == {
        "items[0][id]": "si_1", "items[0][quantity]": "4",
        "items[0][price_data][currency]": "eur", "items[0][price_data][product]": "switchboard-starter",
        "items[0][price_data][unit_amount]": "1500", "items[0][price_data][recurring][interval]": "month",
        "metadata[tenant]": world.tenant.public_id, "metadata[plan]": "starter",
        "proration_behavior": "create_prorations",
    }
    [product] = [r for r in stripe_api.requests if r["path"] == "/v1/products"]
    assert product["key"] == f"{event.public_id}:product" and product["form"]["id"] == "switchboard-starter"

    deliver_echo_twice_and_a_stale_event(post_webhook, stripe_api, changed_at=changed_at)
    sub = subscription(world)
    assert (sub.plan, sub.status, sub.seats) == ("starter", "active", 4)
    assert [c[2] for c in plan_changes(world)] == ["pro", "starter"]
    assert seat_deltas(world) == [-2, 1]

    # Seats alone: another update under its own key; the plan's product exists by now.
    change_plan(tenant=world.tenant, plan_code="starter", seats=6)
    drain()
    second = sync_events(world)[1]
    assert [(w["key"], w["form"]["items[0][quantity]"]) for w in stripe_api.writes()] == [
        (event.public_id, "4"), (second.public_id, "6")]
    assert len([r for r in stripe_api.requests if r["path"] == "/v1/products"]) == 1  # the POST only
    assert stripe_api.applied == Counter({event.public_id: 1, f"{event.public_id}:product": 1, second.public_id: 1})
    post_webhook(stripe_api.echo(created=int(time.time()) + 2))
    drain()
    assert (subscription(world).seats, seat_deltas(world)) == (6, [-2, 1, 2])


def test_two_quick_changes_reach_stripe_in_their_order(on_stripe_pro, stripe_api):
    world = on_stripe_pro
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    change_plan(tenant=world.tenant, plan_code="free")
    drain()
    assert [w["method"] for w in stripe_api.writes()] == ["POST", "DELETE"]
    assert [w["key"] for w in stripe_api.writes()] == [e.public_id for e in sync_events(world)]
    assert stripe_api.subscriptions[SUB]["status"] == "canceled"


@pytest.mark.parametrize("plan_code", ["free", "starter"])
def test_a_handler_failing_twice_then_succeeding_applies_once(on_stripe_pro, stripe_api, plan_code):
    """The first answer is lost after Stripe acted, the second request never gets through, the
    third succeeds. Reads are frozen before the change, so every run sends its write again (as
    two runs that both read first would): only the idempotency key keeps it to one."""
    world = on_stripe_pro
    stripe_api.frozen_reads = deepcopy(stripe_api.subscriptions)
    stripe_api.faults = ["lose_answer", "unreachable"]
    change_plan(tenant=world.tenant, plan_code=plan_code, seats=3)
    [event] = sync_events(world)
    now = timezone.now()
    assert drain(now=now).retried == 1
    assert drain(now=now + timedelta(hours=2)).retried == 1
    assert drain(now=now + timedelta(hours=4)).done == 1
    writes = stripe_api.writes()
    assert len(writes) == 3 and {w["key"] for w in writes} == {event.public_id}
    assert stripe_api.applied[event.public_id] == 1
    with scope(tenant=world.tenant):
        delivery = OutboxDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == ("done", 3)
    expected = "canceled" if plan_code == "free" else "active"
    assert stripe_api.subscriptions[SUB]["status"] == expected


def test_sync_rerun_for_one_event_changes_stripe_once(on_stripe_pro, stripe_api):
    """The handler run again for the same event (a worker killed after Stripe acted), reading the
    state from before the change as a second worker racing the first would: only the idempotency
    key keeps Stripe's change to one."""
    world = on_stripe_pro
    stripe_api.frozen_reads = deepcopy(stripe_api.subscriptions)
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    assert drain().done >= 1
    [event] = sync_events(world)
    handler = handler_named("billing.sync_stripe")
    assert handler is not None
    with scope(tenant=world.tenant):
        handler.func(event)
    writes = stripe_api.writes()
    assert len(writes) == 2 and {w["key"] for w in writes} == {event.public_id}
    assert stripe_api.applied[event.public_id] == 1


def test_a_rerun_after_stripe_acted_reads_the_state_and_writes_nothing(on_stripe_pro, stripe_api):
    world = on_stripe_pro
    stripe_api.faults = ["lose_answer"]
    change_plan(tenant=world.tenant, plan_code="free")
    now = timezone.now()
    assert drain(now=now).retried == 1
    assert drain(now=now + timedelta(hours=2)).done == 1
    assert len(stripe_api.writes()) == 1 and stripe_api.subscriptions[SUB]["status"] == "canceled"


def test_a_rolled_back_change_never_reaches_stripe(on_stripe_pro, stripe_api):
    world = on_stripe_pro
    with pytest.raises(RuntimeError), transaction.atomic():
        change_plan(tenant=world.tenant, plan_code="free")
        raise RuntimeError("something later in the same transaction failed")
    drain()
    assert sync_events(world) == [] and stripe_api.writes() == []
    sub = subscription(world)
    assert (sub.plan, sub.seats) == ("pro", 3) and stripe_api.subscriptions[SUB]["status"] == "active"


def test_the_dunning_downgrade_cancels_the_stripe_subscription(on_stripe_pro, stripe_api, post_webhook):
    world = on_stripe_pro
    failed = stripe_event("invoice.payment_failed", {"id": "in_1", "customer": "cus_test_1"},
                          created=int(time.time()))
    post_webhook(failed)
    drain()
    since = subscription(world).past_due_since
    assert since is not None
    dunning_sweep(now=since + timedelta(days=GRACE_DAYS, minutes=1))
    drain()
    [cancel] = stripe_api.writes()
    assert cancel["method"] == "DELETE" and cancel["key"] == sync_events(world)[0].public_id
    assert (subscription(world).plan, subscription(world).status) == ("free", "active")


def test_without_stripe_billing_nothing_goes_to_stripe(client, world, two_members, stripe_api):
    """A tenant billed by hand (manual provider) changes plans here only, Stripe configured or not."""
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    change_plan(tenant=world.tenant, plan_code="starter", seats=4)
    client.force_login(world.owner.user)
    assert client.post("/billing/plan", {"plan": "free"}).status_code == 302
    drain()
    assert (subscription(world).plan, subscription(world).provider) == ("free", "manual")
    assert sync_events(world) == [] and stripe_api.requests == []


def test_without_a_stripe_key_the_change_waits_in_the_outbox(on_stripe_pro, stripe_api, settings):
    """Stripe still bills the tenant but the key was removed: the handler fails loudly and retries."""
    world = on_stripe_pro
    settings.STRIPE_SECRET_KEY = ""
    change_plan(tenant=world.tenant, plan_code="free")
    assert drain().retried == 1
    with scope(tenant=world.tenant):
        delivery = OutboxDelivery.objects.get(event=sync_events(world)[0])
    assert delivery.status == "pending" and "STRIPE_SECRET_KEY" in delivery.last_error
    assert stripe_api.writes() == []
