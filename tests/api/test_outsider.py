"""Another tenant's token (or session) never reaches our objects: every endpoint answers 404/403.

The URL list is checked against the router, so a new endpoint without an outsider case fails here.
"""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django_scopes import scope

from push.models import WebhookDelivery, WebhookEndpoint
from support.models import CannedResponse, Label
from support.services.api_tokens import create_token
from support.services.attachments import store_attachment
from tests.api.conftest import ApiClient, session_client

# (url name, method, path template, body). {x} placeholders are our tenant's objects.
OBJECT_CASES = [
    ("api-conversation", "get", "/api/v1/conversations/{conversation}", None),
    ("api-conversation", "patch", "/api/v1/conversations/{conversation}", {"status": "resolved"}),
    ("api-messages", "get", "/api/v1/conversations/{conversation}/messages", None),
    ("api-messages", "post", "/api/v1/conversations/{conversation}/messages", {"body": "intruder"}),
    ("api-attachment", "get", "/api/v1/attachments/{attachment}", None),
    ("api-attachment-download", "get", "/api/v1/attachments/{attachment}/download", None),
    ("api-contact", "get", "/api/v1/contacts/{contact}", None),
    ("api-contact", "patch", "/api/v1/contacts/{contact}", {"name": "Hijacked"}),
    ("api-contact-conversations", "get", "/api/v1/contacts/{contact}/conversations", None),
    ("api-agent", "get", "/api/v1/agents/{agent}", None),
    ("api-team", "get", "/api/v1/teams/{team}", None),
    ("api-team", "patch", "/api/v1/teams/{team}", {"name": "Taken"}),
    ("api-team", "delete", "/api/v1/teams/{team}", None),
    ("api-label", "get", "/api/v1/labels/{label}", None),
    ("api-label", "patch", "/api/v1/labels/{label}", {"name": "taken"}),
    ("api-label", "delete", "/api/v1/labels/{label}", None),
    ("api-canned-response", "get", "/api/v1/canned-responses/{canned}", None),
    ("api-canned-response", "patch", "/api/v1/canned-responses/{canned}", {"body": "taken"}),
    ("api-canned-response", "delete", "/api/v1/canned-responses/{canned}", None),
    ("api-webhook", "get", "/api/v1/webhooks/{endpoint}", None),
    ("api-webhook", "patch", "/api/v1/webhooks/{endpoint}", {"description": "taken"}),
    ("api-webhook", "delete", "/api/v1/webhooks/{endpoint}", None),
    ("api-webhook-ping", "post", "/api/v1/webhooks/{endpoint}/ping", None),
    ("api-webhook-deliveries", "get", "/api/v1/webhooks/{endpoint}/deliveries", None),
    ("api-webhook-redeliver", "post", "/api/v1/webhooks/{endpoint}/deliveries/{delivery}/redeliver", None),
    ("api-token", "get", "/api/v1/tokens/{token}", None),
    ("api-token", "delete", "/api/v1/tokens/{token}", None),
]
OBJECT_IDS = [f"{c[1]} {c[2]}" for c in OBJECT_CASES]
# Collections: the outsider gets its own (empty or own) data, never ours.
LIST_CASES = [
    ("api-me", "/api/v1/me"),
    ("api-conversations", "/api/v1/conversations"),
    ("api-conversation-counts", "/api/v1/conversations/counts"),  # numbers: see test_conversation_counts
    ("api-attachments", None),  # upload only: covered by test_outsider_upload_lands_in_its_own_tenant
    ("api-contacts", "/api/v1/contacts"),
    ("api-agents", "/api/v1/agents"),
    ("api-teams", "/api/v1/teams"),
    ("api-labels", "/api/v1/labels"),
    ("api-canned-responses", "/api/v1/canned-responses"),
    ("api-webhooks", "/api/v1/webhooks"),
    ("api-report-summary", "/api/v1/reports/summary"),
    ("api-report-conversations", "/api/v1/reports/conversations"),
    ("api-report-agents", "/api/v1/reports/agents"),
    ("api-tokens", None),  # session only: covered by test_tokens_of_another_tenant_are_invisible
    ("api-install-check", "/api/v1/install-check"),
    ("api-allowed-origins", None),  # covered by test_install_check's outsider case
    ("api-workspace", "/api/v1/workspace"),
    ("api-members", None),  # session only: covered by test_team's outsider case
    ("api-member", None),
    ("api-invitations", None),
    ("api-invitation", None),  # changes: test_workspace's outsider case
    ("api-invitation-resend", None),  # session only: covered by test_team's outsider case
    ("api-workspace-identity-secret", None),  # session only: its own tenant's; test_workspace's secret test
]


@pytest.fixture
def ours(world, conversation, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with scope(tenant=world.tenant):
        label = Label.objects.create(tenant=world.tenant, name="vip")
        canned = CannedResponse.objects.create(tenant=world.tenant, shortcut="hi", body="Hello!")
        attachment = store_attachment(
            tenant=world.tenant, uploaded_file=SimpleUploadedFile("a.txt", b"secret notes"), name="a.txt",
            content_type="text/plain",
        )
        endpoint = WebhookEndpoint.objects.create(
            tenant=world.tenant, url="http://127.0.0.1:9/hook", event_types=["*"]
        )
        delivery = WebhookDelivery.objects.create(
            tenant=world.tenant, endpoint=endpoint, event_public_id="evt_x", event_type="message.created",
            request_body="{}",
        )
    token = create_token(tenant=world.tenant, name="ours", scope="read_write", created_by=world.owner.user).token
    ids = {
        "conversation": conversation.public_id, "attachment": attachment.public_id,
        "contact": world.contact.public_id, "agent": world.agent.public_id, "team": world.team.public_id,
        "label": label.public_id, "canned": canned.public_id, "endpoint": endpoint.public_id,
        "delivery": delivery.public_id, "token": token.public_id,
    }
    return ids


def _call(client: ApiClient, method: str, path: str, body):
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    return getattr(client, method)(path, body or {})


def v1_route_names() -> set[str]:
    """Every named route under /api/v1/, whichever app's URLconf mounts it (config/urls.py)."""
    names = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name and prefix.startswith("api/v1/"):
                names.add(pattern.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_endpoint_has_an_outsider_case():
    names = v1_route_names()
    assert "api-me" in names and "api-webhooks" in names  # the API's own routes and push's webhooks
    covered = {name for name, *_ in OBJECT_CASES} | {name for name, _ in LIST_CASES}
    assert names == covered


@pytest.mark.parametrize(("name", "method", "template", "body"), OBJECT_CASES, ids=OBJECT_IDS)
def test_outsider_token_gets_404_or_403(ours, outsider_api, name, method, template, body):
    response = _call(outsider_api, method, template.format(**ours), body)
    if name.startswith("api-token"):
        assert response.status_code == 403  # tokens never manage tokens
    else:
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    assert not any(value in response.content.decode() for value in ours.values())


@pytest.mark.parametrize(("name", "method", "template", "body"), OBJECT_CASES, ids=OBJECT_IDS)
def test_outsider_owner_session_gets_404(ours, outsider, name, method, template, body):
    client = session_client(outsider.owner)
    response = _call(client, method, template.format(**ours), body)
    assert response.status_code == 404, response.content
    assert not any(value in response.content.decode() for value in ours.values())


@pytest.mark.parametrize(("name", "path"), [c for c in LIST_CASES if c[1]], ids=[c[1] for c in LIST_CASES if c[1]])
def test_outsider_lists_show_none_of_ours(ours, outsider_api, name, path):
    response = outsider_api.get(path)
    assert response.status_code == 200
    assert not any(value in response.content.decode() for value in ours.values())


def test_outsider_search_finds_nothing_of_ours(ours, outsider_api):
    response = outsider_api.get("/api/v1/conversations", {"q": "invoice"})
    assert response.json()["results"] == []
    # …and filtering by our ids is just an empty page.
    for param in ("contact", "team", "label", "assignee"):
        key = {"assignee": "agent"}.get(param, param)
        response = outsider_api.get("/api/v1/conversations", {param: ours[key]})
        assert response.status_code == 200 and response.json()["results"] == []


def test_tokens_of_another_tenant_are_invisible(ours, outsider):
    client = session_client(outsider.owner)
    listing = client.get("/api/v1/tokens")
    assert listing.status_code == 200
    assert ours["token"] not in listing.content.decode()


def test_outsider_upload_lands_in_its_own_tenant(ours, outsider_api, outsider):
    response = outsider_api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("n.txt", b"hello")})
    assert response.status_code == 201
    assert response.json()["id"] != ours["attachment"]


def test_outsider_cannot_attach_our_file_or_assign_our_agent(ours, outsider_api, outsider):
    from support.services.conversations import start_conversation

    with scope(tenant=outsider.tenant):
        theirs = start_conversation(tenant=outsider.tenant, contact=outsider.contact)
    path = f"/api/v1/conversations/{theirs.public_id}"
    response = outsider_api.post(f"{path}/messages", {"body": "x", "attachment": ours["attachment"]})
    assert response.status_code == 400 and response.json()["error"]["fields"]["attachment"] == ["No such attachment."]
    response = outsider_api.patch(path, {"assignee": ours["agent"], "labels": [ours["label"]], "team": ours["team"]})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"assignee", "labels", "team"}
