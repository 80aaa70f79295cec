"""A scripted HTTP server on 127.0.0.1 for behaviours real servers cannot be made to show
(AWS-style region redirects, 200-with-Error answers, throttling, hostile answers, TLS)."""

from __future__ import annotations

import http.server
import socketserver
import ssl
import threading
from collections.abc import Callable
from typing import NamedTuple


class Req(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


Handler = Callable[[Req], Reply]


class FakeS3:
    """``with FakeS3(handler) as fake:`` serves ``handler(req) -> Reply`` on fake.endpoint."""

    def __init__(self, handler: Handler, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.requests: list[Req] = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Req(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(req)
                reply = outer.handler(req)
                if reply.status < 0:  # close the connection without answering
                    self.close_connection = True
                    return
                self.send_response_only(reply.status)
                hdrs = {"x-amz-request-id": f"req-{len(outer.requests)}", "Date": self.date_time_string(),
                        **(reply.headers or {})}
                if "content-length" not in {k.lower() for k in hdrs}:
                    hdrs["Content-Length"] = str(len(reply.body))
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), H)
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls_context else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeS3":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def error_xml(code: str, message: str = "", **extra: str) -> bytes:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            f"{more}<RequestId>RID-{code}</RequestId></Error>").encode()


def signed_region(req: Req) -> str:
    """The region in a request's SigV4 credential scope."""
    cred = req.headers.get("authorization", "").split("Credential=")[1].split(",")[0]
    return cred.split("/")[2]
