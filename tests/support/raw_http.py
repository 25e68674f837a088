"""A byte-exact HTTP/1.1 client for fuzzing: what the test builds is what goes on the wire.

httpx normalises what it sends (dot segments, header merging, a Content-Length it computes
itself), which hides exactly the requests a fuzzer wants to send. This client writes raw
bytes on a keep-alive socket and reads one response: Content-Length framed (every app reply)
or close-delimited (uvicorn's own 400 for a request it cannot parse). ``fresh=True`` uses a
one-off connection for requests whose framing is itself the attack (a body longer or shorter
than declared), so stray bytes never leak into the next request's answer.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

# Loopback replies come in milliseconds; 10 s means the server is stuck on this request.
READ_TIMEOUT_S = 10.0

# uvicorn's response heads are a few hundred bytes; 64 KiB means the reply is not HTTP.
MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawResponse:
    """One parsed response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def render(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    content_length: int | None = None,
) -> bytes:
    """A request's bytes; ``content_length`` defaults to the true length of ``body``."""
    length = len(body) if content_length is None else content_length
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class RawClient:
    """Keep-alive raw HTTP/1.1 to one ``host:port``; reconnects when the server closes."""

    def __init__(self, address: str, timeout_s: float = READ_TIMEOUT_S):
        host, port = address.rsplit(":", 1)
        self._addr = (host, int(port))
        self._timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self._addr, timeout=self._timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(
        self, data: bytes, *, fresh: bool = False, half_close: bool = False
    ) -> RawResponse | None:
        """Send ``data``; the response, or None if the server closed without one.

        ``half_close`` shuts our write side after sending (the server sees end of input, as
        from a client that declared more body than it had); implies ``fresh``.
        """
        if fresh or half_close:
            with self._connect() as sock:
                sock.sendall(data)
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
                response, _ = _read_response(sock, b"")
                return response
        reused = self._sock is not None
        if self._sock is None:
            self._sock = self._connect()
        try:
            self._sock.sendall(data)
            response, self._buffer = _read_response(self._sock, self._buffer)
        except (BrokenPipeError, ConnectionResetError):
            response = None
        if response is None and reused:
            # The server dropped the idle keep-alive connection before our request: resend once.
            self.close()
            return self.send(data)
        if response is None or (response.header("connection") or "").lower() == "close":
            self.close()
        return response


def _read_response(sock: socket.socket, buffer: bytes) -> tuple[RawResponse | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = _recv(sock)
        if not chunk:
            if buffer:
                raise ValueError(f"connection closed inside a response head: {buffer[:200]!r}")
            return None, b""
        buffer += chunk
        if len(buffer) > MAX_HEAD_BYTES:
            raise ValueError("response head over 64 KiB")
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in header_lines)]
    declared = next((v for k, v in headers if k.lower() == "content-length"), None)
    if declared is None:
        # No length: the body runs to the end of the connection (uvicorn's own 400s do this).
        while chunk := _recv(sock):
            buffer += chunk
        return RawResponse(status, headers, buffer), b""
    length = int(declared)
    while len(buffer) < length:
        chunk = _recv(sock)
        if not chunk:
            raise ValueError("connection closed inside a response body")
        buffer += chunk
    return RawResponse(status, headers, buffer[:length]), buffer[length:]


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""
