"""A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator's cheap path.

The load generator shares two cores with the server, PostgreSQL and Redis, so it must spend little
CPU per request: no client library, just the request line, four headers and a prebuilt body, and a
response read by Content-Length (or chunks). Each request is signed afresh with the SDK's
`authorization_header` (its own timestamp and nonce over the exact bytes sent).
"""

from __future__ import annotations

import asyncio
import contextlib

from partners.sdk import Credentials, authorization_header

ACTIONS_PATH = "/v1/partner/actions"


class WireError(Exception):
    """The connection broke or the answer was not HTTP/1.1 as expected."""


class Connection:
    """One keep-alive connection to host:port; requests on it are strictly sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def connect(self) -> None:
        """Open the connection now rather than on the first request (so it is not timed)."""
        try:
            await self._open()
        except OSError as exc:
            raise WireError(f"{type(exc).__name__}: {exc}") from exc

    async def post_signed(self, creds: Credentials, path: str, body: bytes) -> tuple[int, bytes]:
        """POST `body` to `path`, signed for `creds`; (status, response body). Raises WireError."""
        return await self.post(path, body, authorization_header(creds, "POST", path, body))

    async def post(self, path: str, body: bytes, auth: str) -> tuple[int, bytes]:
        """POST `body` to `path` with this Authorization header; (status, body). Raises WireError."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: {auth}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            reader, writer = await self._open()
            writer.writelines((head, body))
            await writer.drain()
            return await _read_response(reader, self)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise WireError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # closing a broken connection: nothing to save
                await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader, conn: Connection) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.1 status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    if headers.get("connection", "").lower() == "close":
        await conn.close()
    return int(parts[1]), body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent to us; the final CRLF
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
