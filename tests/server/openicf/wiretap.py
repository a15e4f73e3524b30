"""A TCP tap that records every WebSocket message between a client and a server, both ways.

    python -m tests.server.openicf.wiretap --target 127.0.0.1:8759 --out frames.jsonl \
        [--port 0] [--ready-file tap.json]

It listens on 127.0.0.1, relays each accepted connection to the target byte for byte, and logs
(as JSON lines, one per message, in order): `i`, `t_ms` since the first connection, `socket`
(1, 2, ... in accept order), `dir` (`client->server` or `server->client`), `opcode`, and `b64`,
the unmasked payload of the whole message (a fragmented message is joined, RFC 6455 §5.4). The
HTTP upgrade heads go to the same file as `{"http": ...}` lines. It never changes a byte, so the
peers see each other exactly as without it: this is how the recordings under
`tests/server/openicf/java_client/` were taken between the OpenICF Java client and our server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

CLIENT_TO_SERVER = "client->server"
SERVER_TO_CLIENT = "server->client"
CONTINUATION = 0
HEAD_END = b"\r\n\r\n"


@dataclass
class FrameParser:
    """RFC 6455 §5.2 frames out of one direction's byte stream, after its HTTP head."""

    head: bytes | None = None
    buffer: bytearray = field(default_factory=bytearray)
    message_opcode: int | None = None
    fragments: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        """Consume bytes; return ("http", head) and ("message", (opcode, payload)) events."""
        self.buffer += data
        events: list[tuple[str, Any]] = []
        if self.head is None:
            end = self.buffer.find(HEAD_END)
            if end < 0:
                return events
            self.head = bytes(self.buffer[: end + len(HEAD_END)])
            del self.buffer[: end + len(HEAD_END)]
            events.append(("http", self.head))
        while (frame := self._frame()) is not None:
            fin, opcode, payload = frame
            if opcode >= 8:  # control frames are never fragmented and may interleave
                events.append(("message", (opcode, payload)))
                continue
            if opcode != CONTINUATION:
                self.message_opcode = opcode
                self.fragments = bytearray()
            self.fragments += payload
            if fin and self.message_opcode is not None:
                events.append(("message", (self.message_opcode, bytes(self.fragments))))
                self.message_opcode = None
        return events

    def _frame(self) -> tuple[bool, int, bytes] | None:
        b = self.buffer
        if len(b) < 2:
            return None
        fin = bool(b[0] & 0x80)
        opcode = b[0] & 0x0F
        masked = bool(b[1] & 0x80)
        length = b[1] & 0x7F
        pos = 2
        if length == 126:
            if len(b) < 4:
                return None
            (length,) = struct.unpack_from("!H", b, 2)
            pos = 4
        elif length == 127:
            if len(b) < 10:
                return None
            (length,) = struct.unpack_from("!Q", b, 2)
            pos = 10
        mask = b""
        if masked:
            if len(b) < pos + 4:
                return None
            mask = bytes(b[pos : pos + 4])
            pos += 4
        if len(b) < pos + length:
            return None
        payload = bytes(b[pos : pos + length])
        del b[: pos + length]
        if masked:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return fin, opcode, payload


class Recorder:
    """Writes one JSON line per message or HTTP head, numbered in the order seen."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        self.start: float | None = None

    def t_ms(self) -> int:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        return round((now - self.start) * 1000)

    def write(self, socket_no: int, direction: str, kind: str, value: Any) -> None:
        line: dict[str, Any] = {"t_ms": self.t_ms(), "socket": socket_no, "dir": direction}
        if kind == "http":
            line["http"] = base64.b64encode(value).decode("ascii")
        else:
            opcode, payload = value
            self.count += 1
            line = {"i": self.count, **line, "opcode": opcode}
            line["b64"] = base64.b64encode(payload).decode("ascii")
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()


class Tap:
    """Accepts on 127.0.0.1 and relays each connection to the target, recording both ways."""

    def __init__(self, target_host: str, target_port: int, recorder: Recorder) -> None:
        self.target = (target_host, target_port)
        self.recorder = recorder
        self.sockets = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.recorder.t_ms()
        self.sockets += 1
        number = self.sockets
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pump(reader, up_writer, number, CLIENT_TO_SERVER),
            self._pump(up_reader, writer, number, SERVER_TO_CLIENT),
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        direction: str,
    ) -> None:
        parser = FrameParser()
        try:
            while data := await reader.read(65536):
                for kind, value in parser.feed(data):
                    self.recorder.write(number, direction, kind, value)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()


async def serve(args: argparse.Namespace) -> None:
    host, _, port = args.target.rpartition(":")
    with args.out.open("w") as out:
        tap = Tap(host, int(port), Recorder(out))
        server = await asyncio.start_server(tap.handle, "127.0.0.1", args.port)
        bound = server.sockets[0].getsockname()[1]
        if args.ready_file:
            args.ready_file.write_text(json.dumps({"port": bound}))
        print(f"wiretap: 127.0.0.1:{bound} -> {args.target}", file=sys.stderr, flush=True)
        async with server:
            await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wiretap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="host:port of the server")
    parser.add_argument("--out", type=Path, required=True, help="the JSON lines to write")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--ready-file", type=Path, help="write {'port': N} here once listening")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
