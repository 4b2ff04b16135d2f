"""``Idempotency-Key`` for POST handlers: run once per caller and key, replay the stored answer.

Decorate a view's ``post`` with ``@idempotent``. The first request inserts an in-progress row in
its own committed transaction (the unique constraint picks one winner among concurrent firsts),
then runs the handler and stores its response. A repeat with the same body replays it with
``Idempotent-Replayed: true``; another body with the same key is 422; a repeat while the first
still runs is 409. A failed first attempt (exception or 5xx) releases the key so it can be retried.
Keys expire after ``IDEMPOTENCY_TTL`` (expired rows are replaced on use, and purged by
``purge_expired_keys``).
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from support.api.authentication import Principal
from support.api.errors import Conflict, Unprocessable
from support.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_TTL = timedelta(hours=24)
KEY_MAX = 255


def request_fingerprint(request: Request) -> str:
    """sha256 over method, path and body; multipart bodies are hashed field by field, files by content."""
    digest = hashlib.sha256()
    digest.update(f"{request.method}\n{request.path}\n".encode())
    if request.content_type.startswith("multipart/"):
        form: Any = request.data
        for key in sorted(form.keys()):
            for value in form.getlist(key):
                digest.update(f"{key}={value}\n".encode())
        for key in sorted(request.FILES.keys()):
            for upload in request.FILES.getlist(key):
                digest.update(f"{key}:{upload.name}:{upload.size}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > KEY_MAX or not key.isprintable():
            raise serializers.ValidationError(
                [serializers.ErrorDetail(f"{HEADER} must be 1–{KEY_MAX} printable characters",
                                         code="invalid_idempotency_key")]
            )
        principal = request.auth
        assert isinstance(principal, Principal)
        fingerprint = request_fingerprint(request)
        record, claimed = _claim(principal, key, fingerprint)
        if not claimed:
            return _answer_repeat(record, fingerprint)
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            _release(record)
            raise
        if response.status_code >= 500:
            _release(record)
            return response
        _complete(record, response)
        return response

    return wrapper


def _owner(principal: Principal) -> dict[str, Any]:
    if principal.token is not None:
        return {"token": principal.token}
    return {"membership": principal.membership}


def _claim(principal: Principal, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    owner = _owner(principal)
    keys = IdempotencyKey.objects.with_scope(tenant=principal.tenant)
    for _ in range(3):
        now = timezone.now()
        existing = keys.filter(key=key, **owner).first()
        if existing is not None and existing.expires_at <= now:
            keys.filter(pk=existing.pk, expires_at__lte=now).delete()
            existing = None
        if existing is not None:
            return existing, False
        try:
            # Committed at once (its own transaction) so a concurrent repeat sees it while we run.
            with transaction.atomic():
                record = keys.create(
                    tenant=principal.tenant, key=key, fingerprint=fingerprint,
                    created_at=now, expires_at=now + IDEMPOTENCY_TTL, **owner,
                )
            return record, True
        except IntegrityError:
            continue  # another request claimed the key between our read and insert
    return keys.get(key=key, **owner), False


def _answer_repeat(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise Unprocessable(
            f"This {HEADER} was used with a different request; use a new key", code="idempotency_key_reused"
        )
    if record.status != IdempotencyKey.Status.DONE:
        raise Conflict(
            f"A request with this {HEADER} is still being processed; retry later", code="idempotency_key_in_use"
        )
    return Response(record.response_body, status=record.response_status, headers={REPLAY_HEADER: "true"})


def _complete(record: IdempotencyKey, response: Response) -> None:
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    record.status = IdempotencyKey.Status.DONE
    record.response_status = response.status_code
    record.response_body = body
    record.save(update_fields=["status", "response_status", "response_body"])


def _release(record: IdempotencyKey) -> None:
    IdempotencyKey.objects.with_scope(tenant=record.tenant_id).filter(pk=record.pk).delete()


def purge_expired_keys() -> int:
    """Delete expired keys of all tenants (a periodic job): maintenance, not a tenant request."""
    with scopes_disabled():
        deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
