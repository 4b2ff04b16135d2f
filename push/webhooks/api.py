"""/api/v1/webhooks: endpoints (create, change, delete), a test ping, the delivery log and redelivery.

Owners, admins and read-write tokens only. The work is done by ``push.webhooks.services``. The
views are the REST API's own kind (``support.api.base.TenantAPIView``: authentication, token
scopes, throttling, error shape); their routes are ``push/webhooks/api_urls.py``, mounted under
/api/v1/ by config/urls.py, so the API in support/ never imports push.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from push.models import WebhookDelivery, WebhookEndpoint
from push.webhooks import services as webhook_services
from push.webhooks.events import WEBHOOK_EVENT_TYPES
from support.access import by_public_id
from support.api.base import TenantAPIView
from support.api.errors import refusals_by_field
from support.api.idempotency import idempotent
from support.api.pagination import paginate
from support.api.schema import CURSOR, IDEMPOTENCY_KEY, LIMIT, deleted, example
from support.api.shapes import page_of


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(), help_text='Event types, or ["*"] for all')
    is_active = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_blank=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="Signs every delivery (see the Switchboard-Signature header)")


def endpoint_out(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    data = {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "is_active": endpoint.is_active,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _iso(endpoint.failing_since),
        "consecutive_failures": endpoint.consecutive_failures,
        "created": _iso(endpoint.created_at),
        "updated": _iso(endpoint.updated_at),
    }
    if secret:
        data["secret"] = endpoint.secret
    return data


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.CharField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_response_code = serializers.IntegerField(allow_null=True)
    last_duration_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    response_excerpt = serializers.CharField(allow_blank=True)
    redelivery_of = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


def delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.public_id,
        "event_id": delivery.event_public_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "last_response_code": delivery.last_response_code,
        "last_duration_ms": delivery.last_duration_ms,
        "last_error": delivery.last_error,
        "response_excerpt": delivery.response_excerpt,
        "redelivery_of": delivery.redelivery_of.public_id if delivery.redelivery_of else None,
        "created": _iso(delivery.created_at),
        "delivered_at": _iso(delivery.delivered_at),
    }


class EndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False, help_text="https URL on a public address")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=60),
        required=False,
        max_length=len(WEBHOOK_EVENT_TYPES) + 1,
        help_text="Some of: " + ", ".join(WEBHOOK_EVENT_TYPES) + '; or ["*"]',
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="Re-enable (clears failures) or disable")
    rotate_secret = serializers.BooleanField(required=False, default=False, help_text="Update only: new secret")


ENDPOINT_EXAMPLE = {
    "id": "we_3k…",
    "url": "https://hooks.example.com/switchboard",
    "description": "CRM",
    "event_types": ["conversation.created", "message.created"],
    "is_active": True,
    "disabled_reason": "",
    "failing_since": None,
    "consecutive_failures": 0,
    "created": "2026-11-26T09:00:00+00:00",
    "updated": "2026-11-26T09:00:00+00:00",
}

DELIVERY_EXAMPLE = {
    "id": "whd_4f…",
    "event_id": "evt_8c…",
    "event_type": "message.created",
    "status": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_response_code": 200,
    "last_duration_ms": 84,
    "last_error": "",
    "response_excerpt": "ok",
    "redelivery_of": None,
    "created": "2026-11-26T09:31:00+00:00",
    "delivered_at": "2026-11-26T09:31:01+00:00",
}


# Which input a refusal of the webhook services is about, so forms can show it under that field.
_ERROR_FIELDS = {"unsafe_url": "url", "invalid_event_types": "event_types", "invalid_description": "description"}


def _endpoint(view: TenantAPIView, endpoint_id: str) -> WebhookEndpoint:
    endpoints = WebhookEndpoint.objects.with_scope(tenant=view.tenant)
    return by_public_id(endpoints, endpoint_id, tenant=view.tenant, what="webhook endpoint")


class EndpointListView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="webhooks_list",
        tags=["webhooks"],
        summary="Webhook endpoints",
        parameters=[CURSOR, LIMIT],
        responses={200: page_of(WebhookEndpointSerializer)},
        examples=[example("A page", {"results": [ENDPOINT_EXAMPLE], "next": None})],
    )
    def get(self, request: Request) -> Response:
        page = paginate(
            request, WebhookEndpoint.objects.with_scope(tenant=self.tenant), ordering=("-created_at", "-public_id")
        )
        return Response({"results": [endpoint_out(e) for e in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="webhooks_create",
        tags=["webhooks"],
        summary="Register an endpoint",
        parameters=[IDEMPOTENCY_KEY],
        request=EndpointWriteSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[
            example(
                "New endpoint",
                {
                    "url": "https://hooks.example.com/switchboard",
                    "event_types": ["conversation.created", "message.created"],
                },
                request=True,
            ),
            example("Endpoint", {**ENDPOINT_EXAMPLE, "secret": "whsec_…"}, status=201),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = EndpointWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        missing = {k: ["This field is required."] for k in ("url", "event_types") if k not in data}
        if missing:
            raise serializers.ValidationError(missing)
        with refusals_by_field(_ERROR_FIELDS):
            endpoint = webhook_services.create_endpoint(
                tenant=self.tenant,
                url=data["url"],
                event_types=data["event_types"],
                description=data.get("description", ""),
                created_by=self.actor,
            )
        return Response(endpoint_out(endpoint, secret=True), status=status.HTTP_201_CREATED)


class EndpointDetailView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="webhooks_retrieve",
        examples=[example("Endpoint", {**ENDPOINT_EXAMPLE, "secret": "whsec_…"})],
        tags=["webhooks"],
        summary="One endpoint, with its secret",
        responses={200: WebhookEndpointWithSecretSerializer},
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(endpoint_out(_endpoint(self, endpoint_id), secret=True))

    @extend_schema(
        operation_id="webhooks_update",
        tags=["webhooks"],
        summary="Change, enable/disable, or rotate the secret of an endpoint",
        request=EndpointWriteSerializer,
        responses={200: WebhookEndpointWithSecretSerializer},
        examples=[
            example("Re-enable", {"is_active": True}, request=True),
            example("Endpoint", {**ENDPOINT_EXAMPLE, "secret": "whsec_…"}),
        ],
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(self, endpoint_id)
        payload = EndpointWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = {k: v for k, v in payload.validated_data.items() if k != "rotate_secret"}
        with refusals_by_field(_ERROR_FIELDS):
            endpoint = webhook_services.update_endpoint(
                endpoint=endpoint, rotate_secret=payload.validated_data.get("rotate_secret", False), **changes
            )
        return Response(endpoint_out(endpoint, secret=True))

    @extend_schema(
        operation_id="webhooks_destroy",
        tags=["webhooks"],
        summary="Delete an endpoint and its log",
        responses={204: deleted()},
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        webhook_services.delete_endpoint(endpoint=_endpoint(self, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointPingView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="webhooks_ping",
        examples=[example("Delivered", {**DELIVERY_EXAMPLE, "event_type": "ping"})],
        tags=["webhooks"],
        summary="Send a signed test `ping` now",
        description="One attempt, no retries; the answer is the logged delivery with the endpoint's response.",
        request=None,
        responses={200: WebhookDeliverySerializer},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = webhook_services.send_test_ping(endpoint=_endpoint(self, endpoint_id))
        return Response(delivery_out(delivery))


class DeliveryListView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="webhooks_deliveries",
        examples=[example("A page", {"results": [DELIVERY_EXAMPLE], "next": None})],
        tags=["webhooks"],
        summary="An endpoint's deliveries, newest first",
        parameters=[CURSOR, LIMIT],
        responses={200: page_of(WebhookDeliverySerializer)},
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(self, endpoint_id)
        deliveries = (
            WebhookDelivery.objects.with_scope(tenant=self.tenant)
            .filter(endpoint=endpoint)
            .select_related("redelivery_of")
        )
        # Queries: the endpoint + one for the page (the original of a redelivery joined).
        page = paginate(request, deliveries, ordering=("-created_at", "-public_id"))
        return Response({"results": [delivery_out(d) for d in page.rows], "next": page.next_url})


class RedeliverView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="webhooks_redeliver",
        examples=[
            example(
                "Queued",
                {
                    **DELIVERY_EXAMPLE,
                    "id": "whd_9k…",
                    "status": "pending",
                    "attempts": 0,
                    "redelivery_of": "whd_4f…",
                    "last_response_code": None,
                    "delivered_at": None,
                },
                status=202,
            )
        ],
        tags=["webhooks"],
        summary="Send a delivery again",
        description="Queues a new delivery with the same event id and body (receivers deduplicate by event id).",
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: WebhookDeliverySerializer},
    )
    @idempotent
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = _endpoint(self, endpoint_id)
        delivery = by_public_id(
            WebhookDelivery.objects.with_scope(tenant=self.tenant)
            .filter(endpoint=endpoint)
            .select_related("redelivery_of"),
            delivery_id,
            tenant=self.tenant,
            what="delivery",
        )
        copy = webhook_services.redeliver(delivery=delivery)
        return Response(delivery_out(copy), status=status.HTTP_202_ACCEPTED)
