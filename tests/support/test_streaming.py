"""Attachment downloads stream block by block under ASGI instead of being read whole into memory."""
from __future__ import annotations

import io
import warnings

from support.streaming import BLOCK_SIZE, StreamedFileResponse


async def test_the_file_is_read_one_block_at_a_time_and_closed():
    data = bytes(range(256)) * 1000  # 256,000 bytes: several blocks
    handle = io.BytesIO(data)
    response = StreamedFileResponse(handle, content_type="image/png", filename="shot.png")
    assert response["Content-Length"] == str(len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns when it must buffer a sync iterator whole
        chunks = [chunk async for chunk in response]
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) == BLOCK_SIZE and len(chunks) == -(-len(data) // BLOCK_SIZE)
    response.close()
    assert handle.closed


def test_sync_servers_still_iterate_it():
    data = b"x" * (BLOCK_SIZE + 10)
    response = StreamedFileResponse(io.BytesIO(data), content_type="application/pdf")
    assert b"".join(response) == data
