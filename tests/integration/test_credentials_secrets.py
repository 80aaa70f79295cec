"""No provider puts a secret into a repr, a log record (captured at DEBUG) or an error
message, including when a hostile server echoes the secret back in its error answer."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from s3kit.credentials import (
    AssumeRoleProvider,
    CallbackProvider,
    ContainerProvider,
    Credentials,
    IMDSProvider,
    ProcessProvider,
    RefreshingCredentials,
    SSOProvider,
    StaticProvider,
    WebIdentityProvider,
    default_chain,
)
from s3kit.errors import S3Error
from tests import credservers
from tests.credservers import (
    FakeContainer,
    FakeIMDS,
    FakeSSO,
    FakeSTS,
    Reply,
    Req,
    Server,
    drive,
    iso,
    jreply,
    script,
    sts_error,
    write,
)

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("s3kit"):  # (the test servers use botocore to check signatures)
            return
        self.texts.append(self.format(record))
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))


class Echo(Server):
    """Answers every request with an error that quotes everything it received."""

    def __init__(self, status: int = 400, xml: bool = False) -> None:
        super().__init__()
        self.status = status
        self.xml = xml

    def handle(self, req: Req) -> Reply:
        said = f"you sent {req.path} {req.headers} {req.body.decode('latin-1')}"
        if self.xml:
            return Reply(self.status, sts_error("InvalidParameterValue", said.replace("<", "").replace("&", " ")))
        return jreply(self.status, {"Code": "Bad", "Message": said, "message": said})


def test_no_secret_is_ever_emitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, creds_env: Any) -> None:
    home = Path(creds_env["HOME"])
    handler = Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    secrets: set[str] = set()

    def keep(*objs: Any) -> None:
        for o in objs:
            texts.append(repr(o))
            texts.append(str(o))
            if isinstance(o, Credentials):
                secrets.update(s for s in (o.secret_key, o.session_token) if s)

    def fails(flow: Any) -> None:
        try:
            drive(flow)
        except S3Error as e:
            texts.extend([str(e), repr(e), e.message])
        else:
            raise AssertionError("expected a failure")

    try:
        # env
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-zz-1")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token-zz-1")
        secrets |= {"env-secret-zz-1", "env-token-zz-1"}
        m = RefreshingCredentials(default_chain())
        keep(drive(m.current()), m, m.chain)
        for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(v)

        # IMDS: success (token in headers), a revoked token, an error document
        with FakeIMDS(lifetime=60) as s:  # expiring: the static-stability warning is logged too
            p = IMDSProvider({"AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url})
            m = RefreshingCredentials(p)
            keep(drive(m.current()), m, p)
            s.revoke_tokens()
            keep(drive(p.load()))
            secrets |= set(s.tokens)
        with FakeIMDS(error_json=True) as s:
            p = IMDSProvider({"AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url})
            assert drive(p.load()) is None
            texts.append(p.where)

        # container: success; a server echoing the token in its error
        container_token = "container-auth-token-zz-2"
        secrets.add(container_token)
        with FakeContainer(token=lambda: container_token) as s:
            env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c", "AWS_CONTAINER_AUTHORIZATION_TOKEN": container_token}
            keep(drive(ContainerProvider(env).load()))
        with Echo(500) as s:
            env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/c", "AWS_CONTAINER_AUTHORIZATION_TOKEN": container_token}
            fails(ContainerProvider(env, retry_sleep=0.01).load())

        # SSO: success; refresh; a portal echoing the bearer token
        sso_token, refresh_token, client_secret = "sso-access-zz-3", "sso-refresh-zz-3", "client-secret-zz"
        secrets |= {sso_token, refresh_token, client_secret, "rotated-refresh-token-zz", "sso-new-access-zz-3"}
        write(home / ".aws" / "config", "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n"
              "[sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n")
        cache = home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"corp").hexdigest() + ".json")
        write(cache, json.dumps({"accessToken": sso_token, "expiresAt": iso(time.time() + 60), "refreshToken": refresh_token,
                                 "clientId": "cid", "clientSecret": client_secret,
                                 "registrationExpiresAt": iso(time.time() + 9999)}))
        with FakeSSO(valid_tokens={sso_token}, refresh_tokens={refresh_token: "sso-new-access-zz-3"}) as s:
            keep(drive(SSOProvider(profile="sso", endpoint=s.url, oidc_endpoint=s.url).load()))
        with Echo(401) as s:
            fails(SSOProvider(profile="sso", endpoint=s.url, oidc_endpoint=s.url).load())
        write(cache, json.dumps({"accessToken": sso_token, "expiresAt": iso(time.time() + 3600)}))
        with Echo(500) as s:
            fails(SSOProvider(profile="sso", endpoint=s.url).load())

        # web identity: success; STS echoing the token
        jwt = "eyJ.web-identity-zz-4.sig"
        secrets.add(jwt)
        (tmp_path / "jwt").write_text(jwt)
        with FakeSTS() as s:
            keep(drive(WebIdentityProvider("arn:aws:iam::1:role/r", str(tmp_path / "jwt"), endpoint=s.url).load()))
        with Echo(400, xml=True) as s:
            fails(WebIdentityProvider("arn:aws:iam::1:role/r", str(tmp_path / "jwt"), endpoint=s.url).load())

        # assume-role with MFA: success; STS echoing the signed request (secret token, MFA code)
        src = Credentials("AKIDSRC", "source-secret-zz-5", "source-token-zz-5")
        secrets |= {"source-secret-zz-5", "source-token-zz-5", "918273"}
        with FakeSTS(secrets={"AKIDSRC": "source-secret-zz-5"}) as s:
            p = AssumeRoleProvider("arn:aws:iam::1:role/r", StaticProvider(src), endpoint=s.url,
                                   mfa_serial="arn:aws:iam::1:mfa/u", mfa_prompt=lambda _: "918273")
            keep(drive(p.load()), p)
        with Echo(403, xml=True) as s:
            fails(AssumeRoleProvider("arn:aws:iam::1:role/r", StaticProvider(src), endpoint=s.url,
                                     mfa_serial="arn:aws:iam::1:mfa/u", mfa_prompt=lambda _: "918273").load())

        # credential_process: success; garbage with a secret on stdout; secret arguments
        secrets |= {"proc-secret-zz-6", "proc-token-zz-6", "cli-arg-secret-zz"}
        ok = script(tmp_path, "ok.py", "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDP', "
                    "'SecretAccessKey': 'proc-secret-zz-6', 'SessionToken': 'proc-token-zz-6'}))\n")
        keep(drive(ProcessProvider(command=f"{ok} --password cli-arg-secret-zz").load()))
        bad = script(tmp_path, "bad.py", "print('SecretAccessKey: proc-secret-zz-6')\n")
        fails(ProcessProvider(command=f"{bad} --password cli-arg-secret-zz").load())

        # a callback whose exception quotes a secret; an advisory refresh failing (WARNING)
        secrets.add("vault-secret-zz-7")

        def boom() -> Credentials:
            raise RuntimeError("vault-secret-zz-7")

        fails(CallbackProvider(boom).load())
        box = {"n": 0}

        def flaky() -> Credentials:
            box["n"] += 1
            if box["n"] > 1:
                raise RuntimeError("vault-secret-zz-7")
            return Credentials("AKIDCB", "cb-secret-zz-8", "cb-token-zz-8", time.time() + 1.5)

        m = RefreshingCredentials(CallbackProvider(flaky), advisory_window=2, mandatory_window=1, retry_interval=0)
        keep(drive(m.current()))
        m._hold_until = 0
        keep(drive(m.current()), m)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    emitted = "\n".join(texts + handler.texts)
    assert handler.texts and any("keeping the current ones" in t for t in handler.texts)
    assert "you sent" in emitted  # the echoing servers' messages were quoted...
    for secret in sorted(secrets):
        assert secret not in emitted, secret  # ...but never a secret
