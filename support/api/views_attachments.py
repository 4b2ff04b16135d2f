"""/api/v1/attachments: upload (multipart, type and size checked) and authorised download."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from support.access import access_attachment
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.idempotency import idempotent
from support.api.schema import IDEMPOTENCY_KEY, example
from support.services.attachments import IMAGE_TYPES, store_attachment
from support.streaming import StreamedFileResponse

ATTACHMENT_EXAMPLE = {
    "id": "at_2m…",
    "name": "invoice.pdf",
    "content_type": "application/pdf",
    "size": 48213,
    "url": "/api/v1/attachments/at_2m…/download",
}


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Images (PNG, JPEG, GIF, WebP), PDF, text, CSV, ZIP, DOCX or XLSX")


class AttachmentUploadView(TenantAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="attachments_create",
        tags=["attachments"],
        summary="Upload a file",
        description="The type is read from the file's content, not from its name or the client's Content-Type. "
        "Too large: 413 `too_large`; not allowed: 400 `unsupported_type`. Reference the returned id as "
        "`attachment` when posting a message.",
        parameters=[IDEMPOTENCY_KEY],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: shapes.AttachmentSerializer},
        examples=[example("Attachment", ATTACHMENT_EXAMPLE, status=201)],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = AttachmentUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        attachment = store_attachment(
            tenant=self.tenant, uploaded_file=upload, name=upload.name or "", content_type=upload.content_type or ""
        )
        return Response(shapes.attachment_out(attachment), status=status.HTTP_201_CREATED)


class AttachmentDetailView(TenantAPIView):
    @extend_schema(
        operation_id="attachments_retrieve",
        examples=[example("Attachment", ATTACHMENT_EXAMPLE)],
        tags=["attachments"],
        summary="An attachment's details",
        responses={200: shapes.AttachmentSerializer},
    )
    def get(self, request: Request, attachment_id: str) -> Response:
        return Response(shapes.attachment_out(access_attachment(self.tenant, attachment_id)))


class FileNegotiation(BaseContentNegotiation):
    """A download answers with the file whatever the Accept header says (errors stay JSON)."""

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(self, request: Request, renderers: Iterable[Any], format_suffix: str | None = None) -> Any:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AttachmentDownloadView(TenantAPIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(
        operation_id="attachments_download",
        tags=["attachments"],
        summary="Download the file",
        description="Only for the attachment's tenant (token or session). Served with the checked content type, "
        "`X-Content-Type-Options: nosniff`, and as a download unless it is an image.",
        responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, with its checked type")},
    )
    def get(self, request: Request, attachment_id: str) -> StreamedFileResponse:
        attachment = access_attachment(self.tenant, attachment_id)
        response = StreamedFileResponse(
            attachment.file.open("rb"),
            content_type=attachment.content_type,
            as_attachment=attachment.content_type not in IMAGE_TYPES,
            filename=attachment.name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=3600"
        # Even an image must not run script if opened directly.
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response
