"""credential_process with real executables written to tmp_path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from s3kit.credentials import ProcessProvider
from s3kit.errors import CredentialsError
from tests import credservers
from tests.credservers import drive, iso, script, write

creds_env = credservers.creds_env  # fixtures
loopback_guard = credservers.loopback_guard
pytestmark = pytest.mark.usefixtures("creds_env")


def emitting(tmp_path: Path, doc: object, name: str = "creds.py") -> Path:
    return script(tmp_path, name, f"import json, sys\nprint(json.dumps({doc!r}))\n")


def profile_with(home: Path, command: str, profile: str = "default", extra: str = "") -> None:
    section = "default" if profile == "default" else f"profile {profile}"
    write(home / ".aws" / "config", f"[{section}]\ncredential_process = {command}\n{extra}")


def test_not_configured() -> None:
    assert drive(ProcessProvider().load()) is None


def test_runs_the_profiles_process(tmp_path: Path, creds_env: dict[str, str]) -> None:
    exp = iso(time.time() + 3600, micro=True)
    exe = emitting(tmp_path, {"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "proc-secret-zz",
                              "SessionToken": "proc-token-zz", "Expiration": exp, "AccountId": "111122223333"})
    home = Path(creds_env["HOME"])
    profile_with(home, f"{exe} --role 'a b'", "dev")
    c = drive(ProcessProvider("dev").load())
    assert (c.access_key, c.secret_key, c.session_token, c.account_id) == (
        "AKIDPROC", "proc-secret-zz", "proc-token-zz", "111122223333")
    assert abs(c.expires_at - (time.time() + 3600)) < 5


def test_arguments_are_shell_split_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    exe = script(tmp_path, "argv.py", f"import json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
                 "print(json.dumps({'Version': 1, 'AccessKeyId': 'A', 'SecretAccessKey': 'S'}))\n")
    c = drive(ProcessProvider(command=f"{exe} --name 'two words' \"x;y\" $HOME `id`").load())
    assert c.expires_at is None and c.session_token is None
    assert json.loads(out.read_text()) == ["--name", "two words", "x;y", "$HOME", "`id`"]


def test_account_id_from_profile(tmp_path: Path, creds_env: dict[str, str]) -> None:
    exe = emitting(tmp_path, {"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S"})
    profile_with(Path(creds_env["HOME"]), str(exe), extra="aws_account_id = 444455556666\n")
    assert drive(ProcessProvider().load()).account_id == "444455556666"


def test_nonzero_exit_carries_bounded_stderr(tmp_path: Path) -> None:
    exe = script(tmp_path, "fail.py", "import sys\nsys.stderr.write('token expired, run vault login ' + 'x' * 5000)\n"
                 "sys.exit(3)\n")
    with pytest.raises(CredentialsError) as ei:
        drive(ProcessProvider(command=f"{exe} --password hunter2-secret").load())
    msg = str(ei.value)
    assert "credential-process:" in msg and "status 3" in msg and "run vault login" in msg
    assert len(msg) < 800
    assert "hunter2-secret" not in msg  # the command's arguments are never quoted


def test_bad_json_does_not_echo_output(tmp_path: Path) -> None:
    exe = script(tmp_path, "bad.py", "print('AccessKeyId=AKID SecretAccessKey=leaked-secret-zz')\n")
    with pytest.raises(CredentialsError, match="invalid output: the answer is not JSON") as ei:
        drive(ProcessProvider(command=str(exe)).load())
    assert "leaked-secret-zz" not in str(ei.value)


@pytest.mark.parametrize("doc,match", [
    ({"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}, "unsupported Version 2"),
    ({"AccessKeyId": "A", "SecretAccessKey": "S"}, "unsupported Version '.missing.'"),
    ({"Version": 1, "AccessKeyId": "A"}, "no SecretAccessKey"),
    ({"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "soon"}, "Expiration"),
    ([1, 2], "not an object"),
])
def test_invalid_documents(tmp_path: Path, doc: object, match: str) -> None:
    exe = emitting(tmp_path, doc)
    with pytest.raises(CredentialsError, match=match):
        drive(ProcessProvider(command=str(exe)).load())


def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot run .*nope"):
        drive(ProcessProvider(command=f"{tmp_path}/nope --secret-arg zz").load())


def test_timeout(tmp_path: Path) -> None:
    exe = script(tmp_path, "slow.py", "import time\ntime.sleep(5)\n")
    t0 = time.monotonic()
    with pytest.raises(CredentialsError, match="did not finish within 0.5 s"):
        drive(ProcessProvider(command=str(exe), timeout=0.5).load())
    assert time.monotonic() - t0 < 3


def test_each_refresh_runs_the_process_again(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    counter.write_text("0")
    exe = script(tmp_path, "count.py", f"import json, time\np = {str(counter)!r}\nn = int(open(p).read()) + 1\n"
                 "open(p, 'w').write(str(n))\n"
                 "print(json.dumps({'Version': 1, 'AccessKeyId': f'AK{n}', 'SecretAccessKey': 'S', "
                 "'Expiration': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3600))}))\n")
    p = ProcessProvider(command=str(exe))
    assert [drive(p.load()).access_key for _ in range(3)] == ["AK1", "AK2", "AK3"]
