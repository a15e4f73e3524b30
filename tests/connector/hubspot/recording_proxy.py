"""A real HTTP forward proxy on 127.0.0.1 that records the requests going through it.

It serves absolute-form requests (`GET http://host:port/path HTTP/1.1`, what a client sends for
an `http://` target) and `CONNECT host:port` tunnels (for `https://`), and pipes bytes both ways.
Request lines seen in plain traffic and CONNECT targets are recorded in `lines`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

_REQUEST_LINE = re.compile(rb"(?m)^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1\r$")


class RecordingProxy:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.port = 0
        self.open_connections = 0
        self.most_connections = 0
        """The most client connections open at once."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open_connections += 1
        self.most_connections = max(self.most_connections, self.open_connections)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method == "CONNECT":
                self.lines.append(f"CONNECT {target}")
                host, port = target.rsplit(":", 1)
                up_reader, upstream = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                first = b""
            else:
                url = urlsplit(target)
                up_reader, upstream = await asyncio.open_connection(url.hostname, url.port or 80)
                first = head
            await asyncio.gather(
                self._pipe(reader, upstream, first, record=method != "CONNECT"),
                self._pipe(up_reader, writer, b"", record=False),
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            for w in (writer, upstream):
                if w is not None:
                    w.close()
            self._tasks.discard(task)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        first: bytes,
        *,
        record: bool,
    ) -> None:
        data = first
        while True:
            if data:
                if record:
                    for match in _REQUEST_LINE.finditer(data):
                        line = f"{match[1].decode()} {match[2].decode()}"
                        self.lines.append(line)
                sink.write(data)
                await sink.drain()
            data = await source.read(65536)
            if not data:
                with contextlib.suppress(OSError):
                    sink.write_eof()
                return


@contextlib.asynccontextmanager
async def recording_proxy() -> AsyncIterator[RecordingProxy]:
    proxy = RecordingProxy()
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
