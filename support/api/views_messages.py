"""/api/v1/conversations/{id}/messages: read history by seq, and post as an agent or an integration.

Who a posted message is from:
- a signed-in agent: that agent (``author_type=agent``);
- a token with ``author`` (an agent id): that agent — for integrations that relay an agent's reply;
- a token without ``author``: the integration itself, ``author_type=system`` (shown to the visitor
  like a bot message) with ``data.integration = {"token": <token id>, "name": <token name>}``.
  Internal notes need an agent, so a token must name one with ``author`` to write a note.
An agent's reply (not a note) to a conversation nobody has assigns it to that agent.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from support import access
from support.access import access_attachment
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.idempotency import idempotent
from support.api.pagination import parse_limit
from support.api.schema import IDEMPOTENCY_KEY, LIMIT, example
from support.errors import NotFound
from support.models import Message
from support.services.conversations import replying_takes, take_on_reply
from support.services.messages import post_message

MESSAGE_EXAMPLE = {
    "id": "msg_7d1x…", "conversation": "cv_4k2j…", "seq": 13, "client_id": "c-5f1e",
    "author": {"type": "agent", "id": "ag_1k…", "name": "Alice"}, "kind": "text",
    "body": "Thanks, I've refunded the order.", "created": "2026-11-26T09:31:00+00:00", "data": {},
}


class MessageRangeSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, help_text="Messages with seq > after, oldest first")
    before = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Without `after`: the latest `limit` messages with seq < before (default: the newest)",
    )


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                 help_text=f"Text (up to {settings.MESSAGE_MAX_CHARS} characters)")
    kind = serializers.ChoiceField(choices=[Message.Kind.TEXT, Message.Kind.NOTE], default=Message.Kind.TEXT,
                                   help_text="`note` is internal: never shown to the visitor")
    client_id = serializers.CharField(
        required=False, max_length=64,
        help_text="Your id for this message; a retry with the same id returns the original",
    )
    attachment = serializers.CharField(required=False, max_length=40, help_text="Id of an uploaded attachment")
    author = serializers.CharField(
        required=False, max_length=40,
        help_text="API tokens only: post as this agent (id). Omit to post as the integration",
    )


class MessageListView(TenantAPIView):
    @extend_schema(
        operation_id="messages_list", tags=["messages"], summary="Messages of a conversation, by seq",
        description="Always oldest first within a page. With `after`: forward from that seq, and `next` continues "
        "forward. Otherwise: the latest messages (before `before` if given), and `next` goes to older ones — what a "
        "chat view loads when scrolling up. Internal notes and events are included.",
        parameters=[MessageRangeSerializer, LIMIT],
        responses={200: shapes.page_of(shapes.MessageSerializer)},
        examples=[example("A page", {"results": [MESSAGE_EXAMPLE], "next": None})],
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        conv = access.access_conversation(self.tenant, conversation_id)
        bounds = MessageRangeSerializer(data=request.query_params)
        bounds.is_valid(raise_exception=True)
        after, before = bounds.validated_data.get("after"), bounds.validated_data.get("before")
        limit = parse_limit(request)
        messages = Message.objects.filter(conversation=conv).select_related("author_membership__user", "attachment")
        if before is not None:
            messages = messages.filter(seq__lt=before)
        url = request.build_absolute_uri()
        # Queries: the conversation (access) + one for the page, authors and attachments joined.
        if after is not None:
            rows = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
            more = len(rows) > limit
            rows = rows[:limit]
            next_url = replace_query_param(url, "after", rows[-1].seq) if more else None
        else:
            rows = list(messages.order_by("-seq")[: limit + 1])
            more = len(rows) > limit
            rows = rows[:limit][::-1]
            next_url = replace_query_param(remove_query_param(url, "after"), "before", rows[0].seq) if more else None
        return Response({
            "results": [shapes.message_out(m, conversation_public_id=conv.public_id) for m in rows],
            "next": next_url,
        })

    @extend_schema(
        operation_id="messages_create", tags=["messages"], summary="Post a message or an internal note",
        description=__doc__,
        parameters=[IDEMPOTENCY_KEY],
        request=MessageCreateSerializer,
        responses={201: shapes.MessageSerializer, 200: shapes.MessageSerializer},
        examples=[
            example("Reply", {"body": "Thanks, I've refunded the order.", "client_id": "c-5f1e"}, request=True),
            example("Internal note", {"kind": "note", "body": "Customer since 2019"}, request=True),
            example("Message", MESSAGE_EXAMPLE, status=201),
        ],
    )
    @idempotent
    def post(self, request: Request, conversation_id: str) -> Response:
        conv = access.access_conversation(self.tenant, conversation_id)
        payload = MessageCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        author = self._author(data)
        attachment = None
        if data.get("attachment"):
            try:
                attachment = access_attachment(self.tenant, data["attachment"])
            except NotFound:
                raise serializers.ValidationError({"attachment": ["No such attachment."]}) from None
        result = post_message(
            conversation=conv, body=data["body"], kind=data["kind"], client_id=data.get("client_id"),
            attachment=attachment, **author,
        )
        message = result.message
        if result.created and replying_takes(message) and message.author_membership is not None:
            take_on_reply(conversation=conv, agent=message.author_membership)
        return Response(
            shapes.message_out(message, conversation_public_id=conv.public_id),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    def _author(self, data: dict[str, Any]) -> dict[str, Any]:
        principal = self.principal
        if principal.membership is not None:
            if data.get("author"):
                raise serializers.ValidationError({"author": ["Only API tokens may post as another agent."]})
            return {"author_type": Message.Author.AGENT, "author_membership": principal.membership}
        if data.get("author"):
            try:
                agent = access.access_member(self.tenant, data["author"])
            except NotFound:
                raise serializers.ValidationError({"author": ["No such agent."]}) from None
            return {"author_type": Message.Author.AGENT, "author_membership": agent}
        if data["kind"] == Message.Kind.NOTE:
            raise serializers.ValidationError({"author": ["An internal note needs an agent: give `author`."]})
        token = principal.token
        assert token is not None
        return {
            "author_type": Message.Author.SYSTEM,
            "data": {"integration": {"token": token.public_id, "name": token.name}},
        }
