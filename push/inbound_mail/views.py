"""``POST /inbound/email``: raw MIME from a mail provider's inbound webhook (docs/email.md).

Authenticated by the shared secret ``INBOUND_EMAIL_SECRET`` (HTTP Basic password or Bearer
token). The body is the raw message (``message/rfc822``), or ``multipart/form-data`` with it in
``email`` (SendGrid) or ``body-mime`` (Mailgun). The form is read with the ``email`` package's
MIME parser rather than Django's, whose field size cap is far below a mail's.
"""
from __future__ import annotations

import base64
import hmac
import json
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from support.error_shape import error_response
from support.services.inbound_email import MailRejected, UnknownRecipient, receive_mail

_STATUS = {"too_large": 413, "malformed": 400, "rate_limited": 429}
_RAW_FIELDS = ("email", "body-mime")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    response = error_response(status, code, detail)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="inbound email"'
    return response


def _authorized(request: HttpRequest, secret: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


class _BadForm(ValueError):
    pass


def _from_form(body: bytes, content_type: str) -> tuple[bytes, list[str], str]:
    form = BytesParser(policy=policy.default).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not form.is_multipart():
        raise _BadForm("The form could not be read")
    fields: dict[str, bytes] = {}
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(data, bytes):
            fields[name] = data
    raw = next((fields[name] for name in _RAW_FIELDS if name in fields), None)
    if raw is None:
        raise _BadForm("The form has no raw message (field 'email' or 'body-mime')")
    recipients: list[str] = []
    mail_from = ""
    if "envelope" in fields:
        try:
            envelope: Any = json.loads(fields["envelope"])
            recipients = [str(to) for to in envelope.get("to") or []]
            mail_from = str(envelope.get("from") or "")
        except (ValueError, AttributeError):
            raise _BadForm("The envelope field is not JSON") from None
    if "recipient" in fields:
        recipients += [a.strip() for a in fields["recipient"].decode("utf-8", "replace").split(",") if a.strip()]
    if "sender" in fields and not mail_from:
        mail_from = fields["sender"].decode("utf-8", "replace")
    return raw, recipients, mail_from


def _header_recipients(raw: bytes) -> list[str]:
    """Without an envelope, the recipients the headers name (a forwarded copy may only say them there)."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    values = [str(v) for h in ("Delivered-To", "X-Original-To", "To", "Cc") for v in headers.get_all(h) or []]
    return [address for _, address in getaddresses(values) if "@" in address]


@csrf_exempt  # a server-to-server call authenticated by the shared secret; no cookies involved
@require_POST
def inbound_email(request: HttpRequest) -> JsonResponse:
    secret = settings.INBOUND_EMAIL_SECRET
    if not secret or not settings.INBOUND_EMAIL_DOMAIN:
        return _error(404, "not_found", "Inbound email is not enabled")
    if not _authorized(request, secret):
        return _error(401, "not_authenticated", "The inbound email secret is missing or wrong")
    limit = 2 * settings.INBOUND_EMAIL_MAX_BYTES + 64 * 1024  # the raw mail plus a form around it
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error(413, "too_large", f"The message is larger than {settings.INBOUND_EMAIL_MAX_BYTES} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _error(413, "too_large", f"The message is larger than {settings.INBOUND_EMAIL_MAX_BYTES} bytes")
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.lower().startswith("multipart/form-data"):
        try:
            raw, recipients, mail_from = _from_form(body, content_type)
        except _BadForm as exc:
            return _error(400, "invalid_form", str(exc))
    else:
        raw, recipients, mail_from = body, [], ""
    recipients += request.GET.getlist("to")
    if not recipients:
        recipients = _header_recipients(raw)
    try:
        deliveries = receive_mail(raw=raw, recipients=recipients, route="http", mail_from=mail_from)
    except UnknownRecipient:
        return _error(404, "unknown_recipient", "No recipient of this message is an address of ours")
    except MailRejected as exc:
        return _error(_STATUS.get(exc.code, 400), exc.code, exc.detail)
    return JsonResponse({"results": [
        {"tenant": d.record.tenant.public_id,
         "conversation": d.record.conversation.public_id if d.record.conversation else None,
         "status": d.record.status, "duplicate": not d.created}
        for d in deliveries
    ]})
