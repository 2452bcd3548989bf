"""The HTTP server's protocol: uvicorn's httptools parser with a bound on the request head.

llhttp, under httptools, has no limit of its own on the size of the request line and headers, so a
client could make every request carry megabytes of headers. Past `max_header_bytes` the connection
gets a 431 and is closed, before the application sees anything.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadTooLargeError(Exception):
    """Raised inside the parser's callback; httptools turns it into a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 32 * 1024

    _head_bytes = 0
    _head_too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF, as on the wire
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._head_too_large = True
            raise HeadTooLargeError

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        body = json.dumps(
            {
                "error": {
                    "code": "request_header_too_large",
                    "message": f"the request line and headers are larger than the limit of "
                    f"{self.max_header_bytes} bytes",
                }
            }
        ).encode()
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
            ]
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def bounded_http(max_header_bytes: int) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, refusing heads over `max_header_bytes`."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes},
    )
