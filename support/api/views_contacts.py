"""/api/v1/contacts: list and search, create, retrieve, update, and a contact's conversations."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from support.access import access_contact
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.idempotency import idempotent
from support.api.pagination import paginate
from support.api.schema import CURSOR, IDEMPOTENCY_KEY, LIMIT, example
from support.api.views_conversations import CONVERSATION_EXAMPLE, conversation_queryset
from support.api.views_conversations import ORDERING as CONVERSATION_ORDERING
from support.models import Contact
from support.services.contacts import create_contact, update_contact

ORDERING = ("-created_at", "-public_id")
CONTACT_EXAMPLE = {
    "id": "ct_8h2k…",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "verified": False,
    "attributes": {"plan": "pro"},
    "context": {},
    "created": "2026-11-20T10:00:00+00:00",
    "last_seen": None,
}


class ContactWriteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    email = serializers.EmailField(required=False, allow_blank=True)
    attributes = serializers.DictField(
        required=False, help_text="Custom attributes; on update they are merged into the existing ones"
    )


class ContactListView(TenantAPIView):
    @extend_schema(
        operation_id="contacts_list",
        tags=["contacts"],
        summary="List or search contacts, newest first",
        parameters=[OpenApiParameter("q", str, description="Search in name and email"), CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.ContactSerializer)},
        examples=[example("A page", {"results": [CONTACT_EXAMPLE], "next": None})],
    )
    def get(self, request: Request) -> Response:
        contacts = Contact.objects.with_scope(tenant=self.tenant)
        q = (request.query_params.get("q") or "").strip()
        if len(q) > 200:
            raise serializers.ValidationError({"q": ["At most 200 characters."]})
        if q:
            contacts = contacts.filter(Q(name__icontains=q) | Q(email__icontains=q))
        page = paginate(request, contacts, ordering=ORDERING)  # one query
        return Response({"results": [shapes.contact_out(c) for c in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="contacts_create",
        tags=["contacts"],
        summary="Create a contact",
        parameters=[IDEMPOTENCY_KEY],
        request=ContactWriteSerializer,
        responses={201: shapes.ContactSerializer},
        examples=[
            example(
                "New contact",
                {"name": "Ada Lovelace", "email": "ada@example.com", "attributes": {"plan": "pro"}},
                request=True,
            ),
            example("Contact", CONTACT_EXAMPLE, status=201),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = ContactWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contact = create_contact(
            tenant=self.tenant,
            name=data.get("name", ""),
            email=data.get("email", ""),
            attributes=data.get("attributes"),
        )
        return Response(shapes.contact_out(contact), status=status.HTTP_201_CREATED)


class ContactDetailView(TenantAPIView):
    @extend_schema(
        operation_id="contacts_retrieve",
        tags=["contacts"],
        summary="One contact",
        responses={200: shapes.ContactSerializer},
        examples=[example("Contact", CONTACT_EXAMPLE)],
    )
    def get(self, request: Request, contact_id: str) -> Response:
        return Response(shapes.contact_out(access_contact(self.tenant, contact_id)))

    @extend_schema(
        operation_id="contacts_update",
        tags=["contacts"],
        summary="Change a contact's name, email or attributes",
        request=ContactWriteSerializer,
        responses={200: shapes.ContactSerializer},
        examples=[
            example("Set an attribute", {"attributes": {"plan": "enterprise"}}, request=True),
            example("Contact", CONTACT_EXAMPLE),
        ],
    )
    def patch(self, request: Request, contact_id: str) -> Response:
        contact = access_contact(self.tenant, contact_id)
        payload = ContactWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contact = update_contact(
            contact=contact, name=data.get("name"), email=data.get("email"), attributes=data.get("attributes")
        )
        return Response(shapes.contact_out(contact))


class ContactConversationsView(TenantAPIView):
    @extend_schema(
        operation_id="contacts_conversations",
        examples=[example("A page", {"results": [CONVERSATION_EXAMPLE], "next": None})],
        tags=["contacts"],
        summary="A contact's conversations",
        parameters=[CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.ConversationSerializer)},
    )
    def get(self, request: Request, contact_id: str) -> Response:
        contact = access_contact(self.tenant, contact_id)
        page = paginate(
            request, conversation_queryset(self.tenant).filter(contact=contact), ordering=CONVERSATION_ORDERING
        )
        return Response({"results": [shapes.conversation_out(c) for c in page.rows], "next": page.next_url})
