"""Storing uploaded files as attachments: type by magic bytes, size cap, tenant-first paths; and
deleting uploads that were never sent.

The client's file name and content type are not trusted: the type comes from the file's first
bytes, and the stored name always ends in an extension of that type, so a PNG named
``page.html`` is stored and served as ``page.html.png`` with ``image/png``.
"""
from __future__ import annotations

import logging
import re
import secrets
import unicodedata
import zipfile
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django_scopes import scope, scopes_disabled

from support.errors import ValidationFailed
from support.models import Attachment, Message, Tenant

log = logging.getLogger(__name__)

# content type -> accepted extensions (first one is the canonical one)
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log", ".md"),
    "text/csv": (".csv",),
    "application/zip": (".zip",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
}
# The original of an inbound email (docs/email.md), stored by the inbound service only: not a type
# visitors or agents may upload. Served as a download like every non-image.
MAIL_TYPE = "message/rfc822"
_EXTENSIONS: dict[str, tuple[str, ...]] = {**ALLOWED_TYPES, MAIL_TYPE: (".eml",)}
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_SNIFF_BYTES = 4096
_NAME_MAX = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def store_attachment(
    *, tenant: Tenant, uploaded_file: File, name: str, content_type: str = "", original_mail: bool = False
) -> Attachment:
    """Check and store ``uploaded_file``; ``content_type`` is the client's claim, used only to tell CSV from text.

    ``original_mail``: the raw bytes of an inbound email, which must look like one (``message/rfc822``).
    """
    size = uploaded_file.size or 0
    if size <= 0:
        raise ValidationFailed(gettext("The file is empty"), code="empty")
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationFailed(
            gettext("The file is larger than %(n)d bytes") % {"n": settings.ATTACHMENT_MAX_BYTES}, code="too_large"
        )
    if original_mail:
        detected = _sniff_mail(uploaded_file)
    else:
        detected = sniff_content_type(uploaded_file, name=name, claimed=content_type)
    if detected is None:
        raise ValidationFailed(
            gettext("This file type is not allowed (images, PDF, text, CSV, ZIP, DOCX and XLSX are)"),
            code="unsupported_type",
        )
    safe = safe_file_name(name, content_type=detected)
    uploaded_file.seek(0)
    path = default_storage.save(f"t{tenant.pk}/attachments/{secrets.token_hex(16)}/{safe}", uploaded_file)
    try:
        with transaction.atomic():
            return Attachment.objects.with_scope(tenant=tenant).create(
                tenant=tenant, file=path, name=safe, content_type=detected, size=size
            )
    except Exception:
        # No row, no file: a failed insert must not leave an orphan on disk.
        default_storage.delete(path)
        raise


def sniff_content_type(uploaded_file: IO[bytes] | File, *, name: str, claimed: str = "") -> str | None:
    """The allowed content type the file's bytes show, or None."""
    uploaded_file.seek(0)
    head = uploaded_file.read(_SNIFF_BYTES)
    uploaded_file.seek(0)
    if not isinstance(head, bytes):
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_flavour(uploaded_file)
    if _looks_like_text(head):
        lower = name.lower()
        if lower.endswith(".csv") or claimed.split(";")[0].strip().lower() == "text/csv":
            return "text/csv"
        return "text/plain"
    return None


def _zip_flavour(uploaded_file: IO[bytes] | File) -> str | None:
    """Office documents are ZIPs; their member names tell which kind."""
    try:
        with zipfile.ZipFile(uploaded_file) as archive:  # type: ignore[arg-type]
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        uploaded_file.seek(0)
    if "[Content_Types].xml" in names:
        if any(n.startswith("word/") for n in names):
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        if any(n.startswith("xl/") for n in names):
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "application/zip"


# An RFC 5322 header field name and colon at the very start ("Received:", "From:", ...).
_MAIL_HEADER = re.compile(rb"^[!-9;-~]{1,76}:")


def _sniff_mail(uploaded_file: IO[bytes] | File) -> str | None:
    """``message/rfc822`` if the file starts like an email: a header line, no NUL bytes (bodies
    may be 8-bit in any charset, so it need not be UTF-8 text)."""
    uploaded_file.seek(0)
    head = uploaded_file.read(_SNIFF_BYTES)
    uploaded_file.seek(0)
    if isinstance(head, bytes) and b"\x00" not in head and _MAIL_HEADER.match(head) is not None:
        return MAIL_TYPE
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniff boundary is still text.
        if exc.start < len(head) - 3:
            return False
    return True


def safe_file_name(name: str, *, content_type: str) -> str:
    """A storage- and header-safe name ending in an extension of ``content_type``."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("_", base).strip(" ._") or "file"
    extensions = _EXTENSIONS[content_type]
    if not base.lower().endswith(extensions):
        base = f"{base}{extensions[0]}"
    if len(base) > _NAME_MAX:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: _NAME_MAX - len(ext) - 1]}.{ext}"
    return base


PURGE_BATCH = 200


def _unsent(cutoff: datetime) -> QuerySet[Attachment]:
    """Uploads older than ``cutoff`` that no message references."""
    return Attachment.objects.filter(created_at__lt=cutoff).filter(
        ~Exists(Message.objects.filter(attachment_id=OuterRef("pk")))
    )


def purge_unsent_attachments(*, now: datetime | None = None, batch_size: int = PURGE_BATCH) -> int:
    """Delete uploads never sent in a message once older than ``ATTACHMENT_UNSENT_MAX_AGE_HOURS``.

    Rows and files go together, tenant by tenant, in batches of ``batch_size``; returns how many
    were deleted. Safe to run concurrently and again after a crash (see ``_purge_batch``).
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.ATTACHMENT_UNSENT_MAX_AGE_HOURS)
    with scopes_disabled():  # platform housekeeping: find the tenants, then work inside each one's scope
        tenant_ids = sorted(set(_unsent(cutoff).values_list("tenant_id", flat=True)))
    deleted = 0
    for tenant_id in tenant_ids:
        with scope(tenant=tenant_id):
            while True:
                done, more = _purge_batch(tenant_id, cutoff, batch_size)
                deleted += done
                if not more:
                    break
    return deleted


@transaction.atomic
def _purge_batch(tenant_id: int, cutoff: datetime, batch_size: int) -> tuple[int, bool]:
    """One batch of one tenant: (rows deleted, whether a full batch was found).

    The rows are locked (``FOR UPDATE SKIP LOCKED``; SQLite's write lock serialises instead), then
    checked again for references. A message referencing one of them can only commit after its
    foreign-key check takes a key-share lock on that row (PostgreSQL runs the deferred check at
    commit), so while we hold the lock no new reference commits — one racing us fails instead —
    and one that committed before the lock is seen by the second check. Files are deleted before
    the rows, inside the transaction: if the commit fails, the next run finds the rows again
    (deleting a missing file is a no-op), and no file is ever left without its row.
    """
    locked = list(
        _unsent(cutoff).filter(tenant_id=tenant_id)
        .select_for_update(skip_locked=True).order_by("pk").values_list("pk", "file")[:batch_size]
    )
    if not locked:
        return 0, False
    referenced = set(
        Message.objects.filter(attachment_id__in=[pk for pk, _ in locked]).values_list("attachment_id", flat=True)
    )
    doomed = [(pk, name) for pk, name in locked if pk not in referenced]
    prefix = f"t{tenant_id}/"
    for _pk, name in doomed:
        if not name:
            continue
        if not name.startswith(prefix):
            # Never touch a file outside the tenant's folder, whatever the row says.
            log.warning("attachment file %r is outside %s; row deleted, file kept", name, prefix)
            continue
        default_storage.delete(name)
    Attachment.objects.filter(tenant_id=tenant_id, pk__in=[pk for pk, _ in doomed]).delete()
    return len(doomed), len(locked) == batch_size
