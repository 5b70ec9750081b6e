"""The simulator's control HTTP: one request per connection, answered in JSON or plain text.

A single simulator serves it from its own routes; the parent of a sharded simulator serves the same
API and asks its shards with `fetch`, passing their answers on as `Raw`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
MAX_BODY = 65536
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}

Route = Callable[[str, str, bytes], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True, slots=True)
class Raw:
    """An answer passed on as it came: its content type and bytes."""

    content_type: str
    data: bytes


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        length = int(headers.get("content-length", "0"))
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"body of {length} bytes (at most {MAX_BODY})")
        body = await asyncio.wait_for(reader.readexactly(length), timeout=10) if length else b""
        status, payload = await route(method, target, body)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
        status, payload = 400, {"error": f"bad request: {exc}"}
    except Exception as exc:  # never leave a control client hanging
        log.exception("control request failed")
        status, payload = 500, {"error": f"internal error: {exc}"}
    if isinstance(payload, Raw):
        kind, data = payload.content_type, payload.data
    elif isinstance(payload, str):
        kind, data = "text/plain; charset=utf-8", payload.encode()
    else:
        kind, data = "application/json", json.dumps(payload, ensure_ascii=False).encode()
    writer.write(
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
        + data
    )
    try:
        await writer.drain()
    finally:
        writer.close()


async def fetch(port: int, method: str, target: str, body: bytes = b"") -> tuple[int, Raw]:
    """One request to a control port on 127.0.0.1: (status, answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        writer.write(
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    head, _, data = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
    return int(status_line.split(" ", 2)[1]), Raw(headers.get("content-type", "text/plain"), data)


async def fetch_json(port: int, target: str) -> Any:
    status, raw = await fetch(port, "GET", target)
    if status != 200:
        raise RuntimeError(f"GET {target} answered {status}: {raw.data[:200]!r}")
    return json.loads(raw.data)


async def serve(route: Route, port: int) -> tuple[asyncio.Server, tuple[str, int]]:
    """The control API on 127.0.0.1:``port`` (0: any free port): the server and where it listens.

    Raises OSError with the reason when the port cannot be had.
    """
    server = await asyncio.start_server(
        functools.partial(handle, route=route), "127.0.0.1", port, limit=MAX_BODY
    )
    sockname = server.sockets[0].getsockname()
    return server, (sockname[0], sockname[1])
