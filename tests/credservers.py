"""Scripted loopback servers and fixtures for the credential providers' tests.

Every server binds 127.0.0.1 on a free port. ``creds_env`` (import it into a test module
to use it) gives each test a clean AWS environment, a temporary HOME, IMDS disabled
unless a test points it at one of these servers, and a guard that fails loudly if
anything tries to connect to a non-loopback address (169.254.169.254, sts.amazonaws.com...).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from s3kit.flow import Call, Send, Sleep
from s3kit.runner import run
from s3kit.transport import Transport

AWS_VARS = [
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_METADATA_SERVICE_TIMEOUT", "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
    "AWS_EC2_METADATA_V1_DISABLED", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
]


# -- loopback guard ------------------------------------------------------------------------


class NonLoopbackConnection(AssertionError):
    """A test tried to reach a real host."""


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


class LoopbackGuard:
    def __init__(self) -> None:
        self.refused: list[str] = []
        self._real = socket.create_connection

    def create_connection(self, address: Any, *args: Any, **kw: Any) -> socket.socket:
        host = str(address[0])
        if not _is_loopback(host):
            self.refused.append(f"{host}:{address[1]}")
            raise NonLoopbackConnection(f"test tried to connect to non-loopback {host}:{address[1]}")
        return self._real(address, *args, **kw)


@pytest.fixture()
def loopback_guard(monkeypatch: pytest.MonkeyPatch) -> LoopbackGuard:
    guard = LoopbackGuard()
    monkeypatch.setattr(socket, "create_connection", guard.create_connection)
    return guard


@pytest.fixture()
def creds_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_guard: LoopbackGuard) -> dict[str, str]:
    """A clean environment (returned as the dict to pass as ``env``; os.environ matches)."""
    for v in AWS_VARS:
        monkeypatch.delenv(v, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "*")
    return os.environ  # type: ignore[return-value]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- drivers -------------------------------------------------------------------------------


def drive(flow: Any, transport: Transport | None = None) -> Any:
    """Run a flow with the sync driver."""
    t = transport or Transport()
    try:
        return run(flow, t)
    finally:
        if transport is None:
            t.close()


async def adrive(flow: Any, transport: Transport) -> Any:
    """A minimal asyncio driver: Send and Call in threads, Sleep on the loop."""
    value: Any = None
    exc: BaseException | None = None
    while True:
        try:
            action = flow.send(value) if exc is None else flow.throw(exc)
        except StopIteration as stop:
            return stop.value
        value = exc = None
        try:
            if type(action) is Send:
                value = await asyncio.to_thread(transport.send, action.request)
            elif type(action) is Call:
                value = await asyncio.to_thread(action.fn, *action.args)
            elif type(action) is Sleep:
                await asyncio.sleep(action.seconds)
            else:
                raise TypeError(f"unexpected action {action!r}")
        except BaseException as e:  # noqa: BLE001
            exc = e


# -- a scripted HTTP server ----------------------------------------------------------------


class Req(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None
    delay: float = 0.0


def jreply(status: int, doc: object, delay: float = 0.0) -> Reply:
    return Reply(status, json.dumps(doc).encode(), {"Content-Type": "application/json"}, delay)


class Server:
    """``with Server(handler) as s:`` serves ``handler(req) -> Reply`` on ``s.url``."""

    host = "127.0.0.1"

    def __init__(self, handler: Callable[[Req], Reply] | None = None) -> None:
        self.handler = handler or self.handle
        self.requests: list[Req] = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Req(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer.lock:
                    outer.requests.append(req)
                reply = outer.handler(req)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response_only(reply.status)
                hdrs = dict(reply.headers or {})
                hdrs.setdefault("Content-Length", str(len(reply.body)))
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        self.server = S((self.host, 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, req: Req) -> Reply:
        return Reply(404)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, method: str, path_prefix: str = "") -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_prefix))


def iso(t: float, micro: bool = False) -> str:
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (f".{int((t % 1) * 1e6):06d}" if micro else "") + "Z"


class KeyFactory:
    """Distinct credentials per call, with secrets easy to grep for."""

    def __init__(self, prefix: str, lifetime: float = 6 * 3600) -> None:
        self.prefix = prefix
        self.lifetime = lifetime
        self.issued = 0
        self.lock = threading.Lock()

    def next(self) -> dict[str, str]:
        with self.lock:
            self.issued += 1
            n = self.issued
        return {"AccessKeyId": f"AKID{self.prefix.upper()}{n}", "SecretAccessKey": f"SECRET-{self.prefix}-{n}-zz",
                "Token": f"TOKEN-{self.prefix}-{n}-zz", "Expiration": iso(time.time() + self.lifetime)}


# -- IMDS ------------------------------------------------------------------------------------


class FakeIMDS(Server):
    """IMDSv2 with token TTLs, revocation (401), v1-only mode, delays and error answers."""

    CREDS = "/latest/meta-data/iam/security-credentials/"

    def __init__(self, *, role: str = "test-role", v1_status: int | None = None, lifetime: float = 6 * 3600,
                 delay: float = 0.0, error_json: bool = False, allow_v1: bool = True, region: str = "eu-west-3") -> None:
        super().__init__()
        self.role = role
        self.v1_status = v1_status  # answer to the token PUT (403/404/405: no IMDSv2 here)
        self.keys = KeyFactory("imds", lifetime)
        self.delay = delay
        self.error_json = error_json
        self.allow_v1 = allow_v1
        self.region = region
        self.tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.token_ttls: list[str] = []

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def handle(self, req: Req) -> Reply:
        d = self.delay
        if req.method == "PUT" and req.path == "/latest/api/token":
            if self.v1_status:
                return Reply(self.v1_status, delay=d)
            ttl = req.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
            self.token_ttls.append(ttl)
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return Reply(400, delay=d)
            token = f"imds-token-{len(self.token_ttls)}-secretish"
            self.tokens[token] = time.time() + int(ttl)
            return Reply(200, token.encode(), delay=d)
        if req.method != "GET":
            return Reply(405, delay=d)
        token = req.headers.get("x-aws-ec2-metadata-token")
        if token is not None:
            if self.tokens.get(token, 0) <= time.time():
                return Reply(401, delay=d)
        elif not self.allow_v1:
            return Reply(401, delay=d)
        if req.path == self.CREDS:
            return Reply(200, self.role.encode(), delay=d) if self.role else Reply(404, delay=d)
        if req.path == self.CREDS + self.role:
            if self.error_json:
                return jreply(200, {"Code": "AssumeRoleUnauthorizedAccess", "Message": "EC2 cannot assume the role",
                                    "LastUpdated": iso(time.time())}, d)
            doc = {"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC", **self.keys.next()}
            return jreply(200, doc, d)
        if req.path == "/latest/meta-data/placement/region":
            return Reply(200, self.region.encode(), delay=d)
        return Reply(404, delay=d)


# -- container endpoint ---------------------------------------------------------------------


class FakeContainer(Server):
    """The ECS/EKS credentials endpoint; checks the Authorization header when ``token`` is set."""

    def __init__(self, *, token: Callable[[], str | None] | None = None, fail_first: int = 0,
                 lifetime: float = 6 * 3600, account: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.fail_first = fail_first
        self.keys = KeyFactory("ctr", lifetime)
        self.account = account

    def handle(self, req: Req) -> Reply:
        if self.fail_first > 0:
            self.fail_first -= 1
            return jreply(500, {"code": "InternalError", "message": "try again"})
        want = self.token() if self.token else None
        if want is not None and req.headers.get("authorization") != want:
            return jreply(403, {"code": "AccessDeniedException", "message": "bad authorization token"})
        doc: dict[str, str] = {**self.keys.next(), "RoleArn": "arn:aws:iam::123456789012:role/ctr"}
        if self.account:
            doc["AccountId"] = self.account
        return jreply(200, doc)


# -- SSO portal and OIDC --------------------------------------------------------------------


class FakeSSO(Server):
    """``GET /federation/credentials`` (portal) and ``POST /token`` (SSO-OIDC refresh)."""

    def __init__(self, *, valid_tokens: set[str], lifetime: float = 3600,
                 refresh_tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.valid_tokens = valid_tokens
        self.keys = KeyFactory("sso", lifetime)
        self.refresh_tokens = refresh_tokens or {}  # refresh token -> new access token

    def handle(self, req: Req) -> Reply:
        if req.method == "GET" and req.path.startswith("/federation/credentials?"):
            if req.headers.get("x-amz-sso_bearer_token") not in self.valid_tokens:
                return jreply(401, {"message": "Session token not found or invalid"})
            k = self.keys.next()
            return jreply(200, {"roleCredentials": {
                "accessKeyId": k["AccessKeyId"], "secretAccessKey": k["SecretAccessKey"],
                "sessionToken": k["Token"], "expiration": int((time.time() + self.keys.lifetime) * 1000)}})
        if req.method == "POST" and req.path == "/token":
            doc = json.loads(req.body)
            new = self.refresh_tokens.get(doc.get("refreshToken"))
            if doc.get("grantType") != "refresh_token" or new is None or doc.get("clientSecret") != "client-secret-zz":
                return jreply(400, {"error": "invalid_grant", "error_description": "bad refresh token"})
            self.valid_tokens.add(new)
            return jreply(200, {"accessToken": new, "expiresIn": 28800, "tokenType": "Bearer",
                                "refreshToken": "rotated-refresh-token-zz"})
        return Reply(404)


# -- endpoints that never answer, or refuse --------------------------------------------------


class Blackhole:
    """Accepts connections and never answers (reads and discards)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.conns: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def __enter__(self) -> Blackhole:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def script(tmp_path: Path, name: str, body: str) -> Path:
    """An executable Python script (for credential_process)."""
    import sys

    p = tmp_path / name
    p.write_text(f"#!{sys.executable}\n{body}")
    p.chmod(0o755)
    return p


@pytest.fixture()
def imds() -> Iterator[FakeIMDS]:
    with FakeIMDS() as s:
        yield s


# -- STS (scripted; moto covers the real protocol) -----------------------------------------


def sts_xml(action: str, ak: str, sk: str, token: str, expires: float, account: str = "123456789012") -> bytes:
    return (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
            f"<Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{sk}</SecretAccessKey>"
            f"<SessionToken>{token}</SessionToken><Expiration>{iso(expires, micro=True)}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{account}:assumed-role/r/x</Arn></AssumedRoleUser>"
            f"</{action}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
            f"</{action}Response>").encode()


def sts_error(code: str, message: str) -> bytes:
    return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
            ).encode()


class FakeSTS(Server):
    """AssumeRole / AssumeRoleWithWebIdentity; records the form parameters; ``errors`` is a
    list of (status, code) answered first; ``check_signature`` recomputes SigV4 with
    botocore for signed calls and answers 403 SignatureDoesNotMatch when it differs."""

    def __init__(self, *, lifetime: float = 3600, errors: list[tuple[int, str]] | None = None,
                 secrets: dict[str, str] | None = None) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.errors = list(errors or [])
        self.secrets = dict(secrets or {})  # access key -> secret key, to check signatures
        self.calls: list[dict[str, str]] = []
        self.signed_with: list[str | None] = []
        self.keys = KeyFactory("sts", lifetime)

    def _signature_ok(self, req: Req) -> bool:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials as BotoCredentials

        auth = req.headers["authorization"]
        ak = auth.split("Credential=", 1)[1].split("/", 1)[0]
        region = auth.split("Credential=", 1)[1].split("/")[2]
        sk = self.secrets.get(ak)
        if sk is None:
            return False
        r = AWSRequest(method="POST", url=f"http://{req.headers['host']}/", data=req.body,
                       headers={"Content-Type": req.headers["content-type"]})
        signer = SigV4Auth(BotoCredentials(ak, sk, req.headers.get("x-amz-security-token")), "sts", region)
        r.context["timestamp"] = req.headers["x-amz-date"]
        signer.add_auth(r)
        mine = r.headers["Authorization"].split("Signature=")[1]
        return mine == auth.split("Signature=")[1]

    def handle(self, req: Req) -> Reply:
        from urllib.parse import parse_qsl

        form = dict(parse_qsl(req.body.decode()))
        self.calls.append(form)
        auth = req.headers.get("authorization")
        self.signed_with.append(auth.split("Credential=", 1)[1].split("/", 1)[0] if auth else None)
        if self.errors:
            status, code = self.errors.pop(0)
            return Reply(status, sts_error(code, f"{code} happened"), {"Content-Type": "text/xml"})
        action = form.get("Action", "")
        if action == "AssumeRole":
            if not auth or not self._signature_ok(req):
                return Reply(403, sts_error("SignatureDoesNotMatch", "bad signature"))
        elif action != "AssumeRoleWithWebIdentity":
            return Reply(400, sts_error("InvalidAction", action))
        k = self.keys.next()
        self.secrets[k["AccessKeyId"]] = k["SecretAccessKey"]  # chained roles sign with these
        return Reply(200, sts_xml(action, k["AccessKeyId"], k["SecretAccessKey"], k["Token"],
                                  time.time() + self.lifetime), {"Content-Type": "text/xml"})
