"""File downloads that stream under ASGI.

Django's ``FileResponse`` iterates its file synchronously; under ASGI the handler can only consume a
synchronous iterator by reading it *whole* into memory in a thread first (the "StreamingHttpResponse
must consume synchronous iterators" warning), so every download of a 10 MB attachment held 10 MB.
``StreamedFileResponse`` is the same response (headers, ranges of behaviour, closing) with an
asynchronous iterator that reads one block at a time in a worker thread. Under WSGI and Django's
sync test client the inherited synchronous iterator is used, as before.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import FileResponse

BLOCK_SIZE = 64 * 1024


class StreamedFileResponse(FileResponse):
    block_size = BLOCK_SIZE

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        if self.file_to_stream is None:  # not a file (FileResponse also takes plain iterables)
            async for part in super().__aiter__():
                yield part
            return
        # Blocking file reads off the event loop, and off the shared database thread.
        read = sync_to_async(self.file_to_stream.read, thread_sensitive=False)
        while chunk := await read(self.block_size):
            yield chunk
