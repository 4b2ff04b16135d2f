"""Reading one raw inbound email: headers, the text of the new reply, attachments, and whether
it is an automatic message (auto-reply, bounce) that must never be answered.

Python's ``email`` package (``policy.default``) does the MIME work; quoted history and signatures
are cut by ``mail-parser-reply``; HTML-only mail becomes text with BeautifulSoup (scripts and
styles dropped, block elements on lines of their own).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import errors as email_errors
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from mailparser_reply import EmailReplyParser

# Languages whose "On … wrote:" headers and signature phrases the reply parser knows.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "zh", "ko"]

# Charsets that mail declares but whose real content is a superset: GB2312 mail routinely carries
# GBK characters, and GB18030 decodes both.
_CHARSET_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                      "euc-cn": "gb18030", "iso-2022-jp": "iso2022_jp_ext", "ks_c_5601-1987": "cp949"}

_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|wg|tr|rv|enc|転送|转发)\s*:", re.IGNORECASE)
_FORWARD_MARKER = re.compile(r"^-{2,}\s*(forwarded message|original message|weitergeleitete nachricht)", re.I | re.M)
_HEADER_START = re.compile(rb"^[!-9;-~]{1,76}:")
_BLANK_RUNS = re.compile(r"\n{3,}")


class MalformedMail(ValueError):
    """The bytes are not a usable email (no headers, no sender, broken multipart)."""


@dataclass(frozen=True)
class MailPart:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # without angle brackets; made from the bytes' hash when the mail has none
    from_address: str  # lower case
    from_name: str
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str  # the whole text body (HTML converted)
    reply: str  # the new text only: quoted history and signature cut
    attachments: list[MailPart] = field(default_factory=list)
    # "auto_reply" or "bounce" when the mail was sent by a machine and must not be answered.
    automatic: str | None = None
    header_recipients: list[str] = field(default_factory=list)  # Delivered-To, X-Original-To, To, Cc


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse ``raw``; ``MalformedMail`` when it cannot be read as an email with a sender."""
    if not _HEADER_START.match(raw.lstrip(b"\r\n")[:80]):
        raise MalformedMail("The data does not start with email headers")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        return _read(msg, raw)
    except MalformedMail:
        raise
    except (email_errors.MessageError, LookupError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise MalformedMail(f"The email could not be parsed: {exc}") from exc


def _read(msg: EmailMessage, raw: bytes) -> ParsedMail:
    broken = [d for d in msg.defects if isinstance(
        d, (email_errors.MultipartInvariantViolationDefect, email_errors.StartBoundaryNotFoundDefect,
            email_errors.NoBoundaryInMultipartDefect))]
    if broken:
        raise MalformedMail(f"Broken multipart structure: {type(broken[0]).__name__}")
    name, address = parseaddr(_header(msg, "From"))
    address = address.strip().lower()
    if "@" not in address:
        raise MalformedMail("The email has no valid From address")
    text = _text_body(msg)
    subject = " ".join(_header(msg, "Subject").split())
    return ParsedMail(
        message_id=_message_id(msg, raw),
        from_address=address,
        from_name=name.strip()[:120],
        subject=subject,
        in_reply_to=_ids(_header(msg, "In-Reply-To")),
        references=_ids(_header(msg, "References")),
        text=text,
        reply=_reply_only(text, subject=subject),
        attachments=_attachments(msg),
        automatic=_automatic(msg, address),
        header_recipients=[a.lower() for _, a in getaddresses(
            [_header(msg, h) for h in ("Delivered-To", "X-Original-To", "To", "Cc")]) if "@" in a],
    )


def _header(msg: Message, name: str) -> str:
    """A header's decoded text; encoded words in GB2312/GBK and friends decode by their supersets."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return _decode_words(str(value))
    return ""


def _decode_words(value: str) -> str:
    parts = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, bytes):
            parts.append(chunk.decode(_codec(charset), errors="replace"))
        else:
            parts.append(chunk)
    # decode_header keeps the whitespace between plain and encoded parts only on one side.
    return "".join(parts).replace("\r", "").replace("\n", "")


def _codec(charset: str | None) -> str:
    charset = (charset or "utf-8").strip().lower()
    charset = _CHARSET_SUPERSETS.get(charset, charset)
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


_ID = re.compile(r"<([^<>\s]{1,250})>")


def _ids(value: str) -> list[str]:
    return _ID.findall(value)


def _message_id(msg: Message, raw: bytes) -> str:
    found = _ids(_header(msg, "Message-ID"))
    if found:
        return found[0]
    # No Message-ID: the same bytes still get the same id, so a redelivery is still one message.
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid"


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(_codec(part.get_content_charset()), errors="replace")


def _text_body(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _part_text(body)
    if body.get_content_subtype() == "html":
        text = html_to_text(text)
    return _BLANK_RUNS.sub("\n\n", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML mail: no markup, scripts, styles or hidden head survive."""
    from bs4 import BeautifulSoup  # on first use: ~1 MB that a web node receiving no HTML mail never needs

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "template"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["div", "li", "tr"]):
        block.insert_after("\n")
    for paragraph in soup.find_all(["p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"]):
        paragraph.insert_after("\n\n")
    for quote in soup.find_all("blockquote"):
        # Quoted history in HTML mail: mark it the way plain-text mail does, so the reply parser cuts it.
        lines = quote.get_text().strip().splitlines()
        quote.replace_with("\n" + "\n".join(f"> {line}" for line in lines) + "\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _reply_only(text: str, *, subject: str) -> str:
    """The new part of ``text``. A forwarded mail keeps everything: what was forwarded is the point."""
    if not text or _FORWARD_SUBJECT.match(subject) or _FORWARD_MARKER.search(text):
        return text
    replies = EmailReplyParser(languages=REPLY_LANGUAGES).read(text=text).replies
    # ``body``: the newest reply without the quoted header, signature and disclaimers.
    reply = replies[0].body if replies else ""
    return reply.strip() or text


def _attachments(msg: EmailMessage) -> list[MailPart]:
    parts = []
    for part in msg.walk():
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue
        disposition = part.get_content_disposition()
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            forwarded = inner[0] if isinstance(inner, list) else inner
            if not isinstance(forwarded, Message):
                continue
            as_bytes = forwarded.as_bytes(policy=policy.default.clone(linesep="\r\n"))
            name = part.get_filename() or "forwarded.eml"
            parts.append(MailPart(name=name, content_type=content_type, data=as_bytes))
            continue
        if disposition not in ("attachment", "inline") or part is msg:
            continue
        if disposition == "inline" and content_type.startswith("text/") and not part.get_filename():
            continue  # the body itself
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            name = part.get_filename() or f"attachment.{part.get_content_subtype()}"
            parts.append(MailPart(name=_decode_words(name), content_type=content_type, data=data))
    return parts


def _automatic(msg: Message, address: str) -> str | None:
    if msg.get_content_type() == "multipart/report" or (
        msg.get_content_type() == "multipart/mixed" and any(
            p.get_content_type() == "message/delivery-status" for p in msg.walk())):
        return "bounce"
    local = address.split("@")[0]
    if local in ("mailer-daemon", "postmaster"):
        return "bounce"
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "auto_reply"
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return "auto_reply"
    return None
