"""Property-based check of the whole API against its own OpenAPI schema (Schemathesis).

Every operation is called with generated input through the real Django app and a real token:
no response may be a server error, and every response must match the documented status codes,
content type and schema. Path ids are replaced by real objects of the tenant, so updates and
deletes run for real instead of all ending in 404.
"""
from __future__ import annotations

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_scopes import scope
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from push.models import WebhookDelivery, WebhookEndpoint
from support.models import CannedResponse, Label
from support.services.api_tokens import create_token
from support.services.attachments import store_attachment
from support.services.conversations import start_conversation
from support.services.messages import post_message

# Loaded once at collection through the app itself (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes "old" connections around each request, which would close the test's
    own transaction on PostgreSQL; Django's test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def real_ids(world, tmp_path, settings, keep_test_connection):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.API_RATE_PER_MINUTE = 100_000
    settings.MEDIA_ROOT = str(tmp_path)
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type="contact", body="hello there")
        endpoint = WebhookEndpoint.objects.create(
            tenant=world.tenant, url="http://127.0.0.1:9/hook", event_types=["*"]
        )
        delivery = WebhookDelivery.objects.create(
            tenant=world.tenant, endpoint=endpoint, event_public_id="evt_1", event_type="message.created",
            request_body="{}",
        )
        ids = {
            "conversation_id": conv.public_id, "contact_id": world.contact.public_id,
            "agent_id": world.agent.public_id, "team_id": world.team.public_id,
            "label_id": Label.objects.create(tenant=world.tenant, name="vip").public_id,
            "canned_id": CannedResponse.objects.create(tenant=world.tenant, shortcut="hi", body="Hi!").public_id,
            "attachment_id": store_attachment(
                tenant=world.tenant, uploaded_file=SimpleUploadedFile("a.txt", b"hello"), name="a.txt"
            ).public_id,
            "endpoint_id": endpoint.public_id, "delivery_id": delivery.public_id,
            "token_id": "tok_unknown",
        }
    token = create_token(tenant=world.tenant, name="schemathesis", scope="read_write", created_by=world.owner.user)
    return ids, token.plaintext


@schema.parametrize()
@hypothesis_settings(
    max_examples=3, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, real_ids):
    ids, token = real_ids
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
