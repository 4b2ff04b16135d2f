"""Uploads are typed by content and capped in size; downloads only within the tenant."""
from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support.services.attachments import safe_file_name, sniff_content_type
from tests.api.conftest import ApiClient, session_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 10


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "expected_type", "expected_name"),
    [
        ("shot.png", PNG, "image/png", "shot.png"),
        ("page.html", PNG, "image/png", "page.html.png"),  # the name lies: the bytes decide
        ("doc.pdf", PDF, "application/pdf", "doc.pdf"),
        ("notes.txt", "Grüße\n".encode(), "text/plain", "notes.txt"),
        ("data.csv", b"a,b\n1,2\n", "text/csv", "data.csv"),
        ("report.docx", _docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "report.docx"),
        ("../../etc/passwd", b"root:x:0:0\n", "text/plain", "passwd.txt"),
    ],
)
def test_upload_types_by_content(world, api, name, content, expected_type, expected_name):
    response = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile(name, content, "application/x-lies")})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["content_type"], body["name"], body["size"]) == (expected_type, expected_name, len(content))
    download = api.get(body["url"], headers={"Accept": "application/octet-stream"})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert download["Content-Type"] == expected_type
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "content"), [
    ("evil.exe", b"MZ\x90\x00" + b"\x00" * 100),
    ("page.html", b"\x00\x01<html><script>alert(1)</script>"),
    ("x.svg", b"\xff\xfe<\x00s\x00v\x00g\x00"),
])
def test_bad_types_are_refused(world, api, name, content):
    response = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile(name, content, "image/png")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_type"


def test_oversized_is_413(world, api, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    response = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("big.txt", b"a" * 1025)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_empty_or_missing_file_is_400(world, api):
    assert api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("e.txt", b"")}).status_code == 400
    missing = api.upload("/api/v1/attachments", {})
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]


def test_json_body_is_415(world, api):
    response = api.post("/api/v1/attachments", {"file": "x"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_stored_under_tenant_path(world, api):
    from django_scopes import scope

    from support.models import Attachment

    body = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("a.txt", b"hi")}).json()
    with scope(tenant=world.tenant):
        stored = Attachment.objects.get(public_id=body["id"])
    assert stored.file.name.startswith(f"t{world.tenant.pk}/attachments/")
    assert stored.file.name.endswith("/a.txt")


def test_download_only_within_tenant(world, outsider, api, outsider_api):
    body = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("a.txt", b"private")}).json()
    assert session_client(world.agent).get(body["url"]).status_code == 200
    assert outsider_api.get(body["url"]).status_code == 404
    assert session_client(outsider.owner).get(body["url"]).status_code == 404
    assert ApiClient().get(body["url"]).status_code == 401


def test_message_with_attachment(world, api, conversation):
    att = api.upload("/api/v1/attachments", {"file": SimpleUploadedFile("p.png", PNG)}).json()
    posted = api.post(f"/api/v1/conversations/{conversation.public_id}/messages", {"attachment": att["id"]})
    assert posted.status_code == 201
    assert posted.json()["attachment"]["id"] == att["id"] and posted.json()["attachment"]["url"] == att["url"]


def test_sniffing_helpers():
    assert sniff_content_type(io.BytesIO(b"GIF89a...."), name="x") == "image/gif"
    assert sniff_content_type(io.BytesIO(b"RIFF\x00\x00\x00\x00WEBPVP8 "), name="x") == "image/webp"
    assert sniff_content_type(io.BytesIO(b"PK\x03\x04garbage"), name="x.zip") is None
    assert safe_file_name("x" * 300 + ".pdf", content_type="application/pdf").endswith(".pdf")
    assert len(safe_file_name("x" * 300 + ".pdf", content_type="application/pdf")) <= 120
