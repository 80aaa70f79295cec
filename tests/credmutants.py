"""Deliberately broken providers: proof that the credential tests can fail.

Applies one mutation at a time to ``src/s3kit/credentials/``, runs the test modules that
should notice, and reports which tests failed (a mutation no test notices is printed as
SURVIVED). Every file is restored afterwards. Not collected by pytest; run it by hand:

    .venv/bin/python tests/credmutants.py                # batch 1 (~12 min)
    BATCH=2 .venv/bin/python tests/credmutants.py        # batch 2, BATCH=3: batch 3
    .venv/bin/python tests/credmutants.py NAME [NAME...] # some mutations of batch 1

Results go to $OUT (default: /tmp/credmutants-<batch>.json). Do not edit the sources
while it runs.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = "src/s3kit/credentials/"
U, IT = "tests/unit/", "tests/integration/"
M2 = [
 ("static-drops-token", C+"default.py", "providers = [StaticProvider(Credentials(access_key, secret_key, session_token))]", "providers = [StaticProvider(Credentials(access_key, secret_key))]", [U+"test_credentials_chain.py"]),
 ("callback-ignored", C+"default.py", "        providers = [CallbackProvider(credentials_provider)]", "        providers = [StaticProvider(Credentials('x', 'y'))]", [U+"test_credentials_chain.py", IT+"test_credentials_e2e.py"]),
 ("paths-ignore-env", C+"__init__.py", 'creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")', 'creds = os.path.join(home, ".aws", "credentials")', [U+"test_credentials_chain.py"]),
 ("parse-errors-ignored", C+"files.py", '        raise CredentialsError(f"cannot parse {path}: {e.__class__.__name__}") from None\n    return cp', '        return None\n    return cp', [U+"test_credentials_chain.py"]),
 ("files-kind-ignored", C+"files.py", 'section = cfg.credentials_profile(self.profile) if self.kind == "credentials" else \\', 'section = cfg.credentials_profile(self.profile) if True else \\', [U+"test_credentials_chain.py"]),
 ("container-unconfigured-raises", C+"container.py", "        if url is None:\n            return None", "        if url is None:\n            raise CredentialsError('x')", [U+"test_credentials_container.py"]),
 ("container-token-env-ignored", C+"container.py", "            token = self.env.get(TOKEN) or \"\"", "            token = \"\"", [U+"test_credentials_container.py"]),
 ("container-unreachable-none", C+"container.py", "                last = describe(e)\n                logger().debug(\"container: attempt", "                return None\n                logger().debug(\"container: attempt", [U+"test_credentials_container.py"]),
 ("container-no-allowed-hosts", C+"container.py", '_ALLOWED_HTTP_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")', '_ALLOWED_HTTP_HOSTS = ("169.254.170.2",)', [U+"test_credentials_container.py"]),
 ("wire-any-scheme", C+"wire.py", 'if u.scheme not in ("http", "https") or not u.hostname:', 'if not u.hostname:', [U+"test_credentials_container.py"]),
 ("imds-token-header-name", C+"imds.py", 'headers = {"x-aws-ec2-metadata-token": token} if token else {}', 'headers = {"x-aws-metadata-token": token} if token else {}', [U+"test_credentials_imds.py"]),
 ("imds-error-json-crash", C+"imds.py", "        if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) and doc.get(f) for f in fields):", "        if not isinstance(doc, dict):", [U+"test_credentials_imds.py"]),
 ("imds-role-path", C+"imds.py", '_CREDS_PATH = "/latest/meta-data/iam/security-credentials/"', '_CREDS_PATH = "/latest/meta-data/iam/info/"', [U+"test_credentials_imds.py"]),
 ("imds-unavailable-not-caught", C+"imds.py", "        except Unavailable as e:\n            self.where = f\"EC2 instance metadata at {client.endpoint.url} ({e})\"", "        except ZeroDivisionError as e:\n            self.where = f\"EC2 instance metadata at {client.endpoint.url} ({e})\"", [U+"test_credentials_imds.py"]),
 ("imds-timeout-env-ignored", C+"imds.py", 'env.get("AWS_METADATA_SERVICE_TIMEOUT") or settings.get("metadata_service_timeout") or 1)', 'settings.get("metadata_service_timeout") or 1)', [U+"test_credentials_imds.py"]),
 ("process-unconfigured-raises", C+"files.py", "            if not command:\n                return None", "            if not command:\n                raise CredentialsError('x')", [U+"test_credentials_process.py"]),
 ("process-missing-keys-ok", C+"files.py", "        if missing:\n            raise CredentialsError(f\"{self.name}: {program} printed no", "        if False:\n            raise CredentialsError(f\"{self.name}: {program} printed no", [U+"test_credentials_process.py"]),
 ("process-not-object-ok", C+"files.py", "        if not isinstance(doc, dict):\n", "        if False:\n", [U+"test_credentials_process.py"]),
 ("process-cached", C+"files.py", "            code, out, err = yield Call(_run, argv, self.timeout)", "            code, out, err = self.__dict__.get('_r') or (yield Call(_run, argv, self.timeout)); self.__dict__['_r'] = (code, out, err)", [U+"test_credentials_process.py"]),
 ("refresh-static-expires", C+"refresh.py", "        if exp is None or now < exp - self.advisory_window:\n            return 0", "        if exp is not None and now < exp - self.advisory_window:\n            return 0", [U+"test_credentials_refresh.py"]),
 ("refresh-no-window-check", C+"refresh.py", "        if mandatory_window > advisory_window:\n", "        if False:\n", [U+"test_credentials_refresh.py"]),
 ("refresh-force-is-advisory", C+"refresh.py", "                result = yield from self._refresh(attempt, 3)", "                result = yield from self._refresh(attempt, 1)", [U+"test_credentials_refresh.py"]),
 ("repr-shows-secret", C+"__init__.py", 'return f"Credentials(access_key={self.access_key!r}, secret_key=<hidden>{token}{extra})"', 'return f"Credentials(access_key={self.access_key!r}, secret_key={self.secret_key}{token}{extra})"', [U+"test_credentials_refresh.py", IT+"test_credentials_secrets.py"]),
 ("sso-unconfigured-raises", C+"sso.py", "        if found is None:\n            return None", "        if found is None:\n            raise CredentialsError('x')", [U+"test_credentials_sso.py"]),
 ("env-wrong-secret", C+"refresh.py", 'sk = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")', 'sk = (env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY") or "") + "-"', [IT+"test_credentials_e2e.py"]),
 ("env-token-dropped", C+"refresh.py", 'token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")', 'token = None', [IT+"test_credentials_e2e.py"]),
 ("process-swapped", C+"files.py", 'ak, sk = doc.get("AccessKeyId"), doc.get("SecretAccessKey")', 'sk, ak = doc.get("AccessKeyId"), doc.get("SecretAccessKey")', [IT+"test_credentials_e2e.py"]),
 ("callback-wrong-secret", C+"refresh.py", "        return creds\n\n\ndef _env_time", "        return creds and Credentials(creds.access_key, 'wrong')\n\n\ndef _env_time", [IT+"test_credentials_e2e.py"]),
 ("imds-token-dropped", C+"imds.py", 'return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"], expires,', 'return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], None, expires,', [IT+"test_credentials_e2e.py", U+"test_credentials_imds.py"]),
 ("sts-token-dropped", C+"sts.py", 'return Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"], expires, account)', 'return Credentials(values["AccessKeyId"], values["SecretAccessKey"], None, expires, account)', [IT+"test_credentials_e2e.py"]),
 ("sts-message-format", C+"sts.py", '        last = f"HTTP {res.status} {detail}"', '        last = "failed"', [IT+"test_credentials_sts.py"]),
 ("sts-no-role-arn-check", C+"sts.py", "        if not role_arn:\n            raise CredentialsError(f\"{self.name}: a web identity", "        if False:\n            raise CredentialsError(f\"{self.name}: a web identity", [IT+"test_credentials_sts.py"]),
 ("sts-generic-endpoint-ignored", C+"wire.py", '            or env.get("AWS_ENDPOINT_URL") or settings.get("endpoint_url") or None)', '            or settings.get("endpoint_url") or None)', [IT+"test_credentials_sts.py"]),
 ("sts-default-region", C+"sts.py", '            or "us-east-1")', '            or "us-west-2")', [IT+"test_credentials_sts.py"]),
 ("sts-no-source-check", C+"sts.py", "        if not sp and not cs:\n", "        if False:\n", [IT+"test_credentials_sts.py"]),
 ("sts-missing-source-ok", C+"sts.py", "            if not cfg.has_profile(sp):\n", "            if False:\n", [IT+"test_credentials_sts.py"]),
 ("sts-any-source", C+"sts.py", '            else:\n                raise CredentialsError(f"{self.name}: credential_source {cs!r}', '            elif False:\n                raise CredentialsError(f"{self.name}: credential_source {cs!r}', [IT+"test_credentials_sts.py"]),
 ("sts-source-error-unwrapped", C+"sts.py", '            raise CredentialsError(f"{self.name}: no source credentials for {self.role_arn}: {e.message}") from None', '            raise', [IT+"test_credentials_sts.py"]),
]
M3 = [
 ("wire-any-scheme", C+"wire.py", 'if u.scheme not in ("http", "https") or not u.hostname:', 'if not u.hostname:', [U+"test_credentials_container.py"]),
 ("container-https-restricted", C+"container.py", 'if ep.scheme == "http" and not (_loopback(ep.host) or ep.host.lower() in _ALLOWED_HTTP_HOSTS):', 'if not (_loopback(ep.host) or ep.host.lower() in _ALLOWED_HTTP_HOSTS):', [U+"test_credentials_container.py"]),
 ("refresh-fresh-too-early", C+"refresh.py", "        if exp is None or now < exp - self.advisory_window:\n            return 0", "        if exp is None or now < exp - self.advisory_window - 100:\n            return 0", [U+"test_credentials_refresh.py"]),
 ("sts-token-dropped", C+"sts.py", 'return Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"], expires, account)', 'return Credentials(values["AccessKeyId"], values["SecretAccessKey"], None, expires, account)', [IT+"test_credentials_e2e.py"]),
 ("imds-token-dropped", C+"imds.py", 'return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"], expires,', 'return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], None, expires,', [IT+"test_credentials_e2e.py"]),
 ("env-fixes-wrong-secret", C+"refresh.py", 'sk = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")', 'sk = (env.get("AWS_SECRET_ACCESS_KEY") or "").rstrip("x")', [IT+"test_credentials_e2e.py"]),
]
M = [
 ("refresh-advisory-raises", C+"refresh.py", "if need == 1 and old is not None and self._need(old, now) < 3:", "if False:", [U+"test_credentials_refresh.py", IT+"test_credentials_secrets.py"]),
 ("refresh-no-single-flight", C+"refresh.py", "                if not self._refreshing:\n                    self._refreshing = True\n                    self._attempt += 1\n                    attempt = self._attempt\n                else:\n                    if need == 1:", "                if True:\n                    self._refreshing = True\n                    self._attempt += 1\n                    attempt = self._attempt\n                else:\n                    if need == 1:", [U+"test_credentials_refresh.py"]),
 ("refresh-waiters-dont-share-failure", C+"refresh.py", "if failure is not None and failure[0] == waited_for and need >= 2:", "if False:", [U+"test_credentials_refresh.py"]),
 ("refresh-fork-not-reset", C+"refresh.py", "mid-refresh at fork()\n        self._lock = allocate_lock()\n        self._refreshing = False\n", "mid-refresh at fork()\n        pass\n", [U+"test_credentials_refresh.py"]),
 ("refresh-asks-whole-chain", C+"refresh.py", "            if provider is None:\n                creds, provider = yield from self.chain.load()", "            if True:\n                creds, provider = yield from self.chain.load()", [U+"test_credentials_refresh.py"]),
 ("refresh-no-hold", C+"refresh.py", "                self._hold_until = now + self.retry_interval\n                self._hold_mandatory = True", "                self._hold_until = 0.0", [U+"test_credentials_refresh.py"]),
 ("refresh-advisory-no-backoff", C+"refresh.py", "                    self._hold_until = now + self.retry_interval\n                    self._hold_mandatory = False", "                    pass", [U+"test_credentials_refresh.py"]),
 ("refresh-force-ignores-stale", C+"refresh.py", "if stale is not None and creds is not None and creds is not stale:", "if False:", [U+"test_credentials_refresh.py"]),
 ("refresh-accepts-expired", C+"refresh.py", "if self._need(creds, self._clock()) == 3:", "if False:", [U+"test_credentials_refresh.py"]),
 ("refresh-cancel-keeps-flag", C+"refresh.py", "        except BaseException:  # Cancelled, GeneratorExit, KeyboardInterrupt: let the next caller try\n            with self._lock:\n                self._refreshing = False\n            raise", "        except BaseException:\n            raise", [U+"test_credentials_refresh.py"]),
 ("refresh-none-ok", C+"refresh.py", "                if got is None:\n", "                if got is None and False:\n", [U+"test_credentials_refresh.py"]),
 ("refresh-fast-path-ignores-expiry", C+"refresh.py", "if creds is not None and (creds.expires_at is None or self._clock() < creds.expires_at - self.advisory_window):", "if creds is not None:", [U+"test_credentials_refresh.py", U+"test_credentials_chain.py"]),
 ("callback-leaks-message", C+"refresh.py", 'raised {type(e).__name__}")', 'raised {e}")', [U+"test_credentials_refresh.py", IT+"test_credentials_secrets.py"]),
 ("callback-no-type-check", C+"refresh.py", "if creds is not None and not isinstance(creds, Credentials):", "if False:", [U+"test_credentials_refresh.py"]),
 ("env-no-secret-key-alias", C+"refresh.py", 'sk = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")', 'sk = env.get("AWS_SECRET_ACCESS_KEY")', [U+"test_credentials_chain.py"]),
 ("env-partial-silent", C+"refresh.py", "        if not sk:\n            raise", "        if not sk:\n            return None\n            raise", [U+"test_credentials_chain.py"]),
 ("env-no-expiry", C+"refresh.py", "expires_at = _env_time(exp, \"AWS_CREDENTIAL_EXPIRATION\") if exp else None", "expires_at = None", [U+"test_credentials_chain.py"]),
 ("chain-order-process-before-file", C+"sts.py", "        SharedFilesProvider(profile, kind=\"credentials\", config=config, env=env, explicit=explicit),\n        ProcessProvider(profile, config=config, env=env, explicit=explicit),", "        ProcessProvider(profile, config=config, env=env, explicit=explicit),\n        SharedFilesProvider(profile, kind=\"credentials\", config=config, env=env, explicit=explicit),", [U+"test_credentials_chain.py"]),
 ("chain-order-sso-after-file", C+"sts.py", "        SSOProvider(profile=profile, config=config, env=env, endpoint=sso_endpoint, explicit=explicit),\n        SharedFilesProvider(profile, kind=\"credentials\", config=config, env=env, explicit=explicit),", "        SharedFilesProvider(profile, kind=\"credentials\", config=config, env=env, explicit=explicit),\n        SSOProvider(profile=profile, config=config, env=env, endpoint=sso_endpoint, explicit=explicit),", [U+"test_credentials_chain.py"]),
 ("chain-explicit-profile-keeps-env", C+"default.py", "providers = [] if explicit else [EnvProvider(env)]", "providers = [EnvProvider(env)]", [U+"test_credentials_chain.py", IT+"test_credentials_e2e.py"]),
 ("chain-webidentity-env-when-explicit", C+"default.py", "disable_env=explicit, explicit=explicit,", "disable_env=False, explicit=explicit,", [IT+"test_credentials_sts.py"]),
 ("chain-no-where", C+"refresh.py", '        raise CredentialsError("no credentials found; looked in: " + "; ".join(looked or ["(no providers)"]))', '        raise CredentialsError("no credentials found")', [U+"test_credentials_chain.py"]),
 ("files-config-wins", C+"files.py", "        merged = dict(self._config.get(name, {}))\n        merged.update(self._credentials.get(name, {}))", "        merged = dict(self._credentials.get(name, {}))\n        merged.update(self._config.get(name, {}))", [U+"test_credentials_chain.py"]),
 ("files-no-require", C+"files.py", "        if (explicit or name != \"default\") and not self.has_profile(name):", "        if False:", [U+"test_credentials_chain.py"]),
 ("files-partial-ok", C+"files.py", "        if not ak or not sk:\n", "        if False:\n", [U+"test_credentials_chain.py"]),
 ("files-no-security-token", C+"files.py", '_TOKENS = ("aws_session_token", "aws_security_token")', '_TOKENS = ("aws_session_token",)', [U+"test_credentials_chain.py"]),
 ("files-reread-each-load", C+"files.py", "            self._loaded = True\n", "            pass\n", [U+"test_credentials_chain.py"]),
 ("process-shell", C+"files.py", 'argv = command if os.name == "nt" else shlex.split(command)', 'argv = ["/bin/sh", "-c", command]', [U+"test_credentials_process.py"]),
 ("process-no-stderr", C+"files.py", '+ (f": {text}" if text else " (no stderr)"))', ')', [U+"test_credentials_process.py"]),
 ("process-no-version-check", C+"files.py", 'if doc.get("Version") != 1:', 'if False:', [U+"test_credentials_process.py"]),
 ("process-echo-stdout", C+"files.py", 'printed invalid output: {e}")', 'printed invalid output: {out!r}")', [U+"test_credentials_process.py", IT+"test_credentials_secrets.py"]),
 ("process-shows-args", C+"files.py", "program = argv[0] if isinstance(argv, list) else argv.split()[0]", "program = command", [U+"test_credentials_process.py", IT+"test_credentials_secrets.py"]),
 ("process-no-expiration", C+"files.py", '        if doc.get("Expiration"):', '        if False:', [U+"test_credentials_process.py"]),
 ("process-no-timeout", C+"files.py", "code, out, err = yield Call(_run, argv, self.timeout)", "code, out, err = yield Call(_run, argv, None)", [U+"test_credentials_process.py"]),
 ("process-no-account", C+"files.py", 'account = doc.get("AccountId") or settings.get("aws_account_id")', 'account = doc.get("AccountId")', [U+"test_credentials_process.py"]),
 ("imds-no-token-cache", C+"imds.py", "if cached is not None and time.monotonic() < cached[1]:", "if False:", [U+"test_credentials_imds.py"]),
 ("imds-token-cached-forever", C+"imds.py", "self._token = (token, started + self.token_ttl - margin)", "self._token = (token, started + 1e9)", [U+"test_credentials_imds.py"]),
 ("imds-no-401-refetch", C+"imds.py", "if res.status == 401 and token and not renewed:", "if False:", [U+"test_credentials_imds.py"]),
 ("imds-no-v1-fallback", C+"imds.py", "            if res.status in (403, 404, 405):\n                return None, None", "            if res.status in (403, 404, 405):\n                raise Unavailable('x')", [U+"test_credentials_imds.py"]),
 ("imds-v1-disabled-ignored", C+"imds.py", "        if token is None and self.v1_disabled:\n            raise Unavailable(\"no IMDSv2", "        if False:\n            raise Unavailable(\"no IMDSv2", [U+"test_credentials_imds.py"]),
 ("imds-no-static-stability", C+"imds.py", "if now >= expires - offset:", "if False:", [U+"test_credentials_imds.py"]),
 ("imds-timeout-5", C+"imds.py", 'settings.get("metadata_service_timeout") or 1)', 'settings.get("metadata_service_timeout") or 5)', [U+"test_credentials_imds.py", U+"test_credentials_chain.py"]),
 ("imds-ttl-header", C+"imds.py", 'headers={"x-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl)})', 'headers={"x-aws-ec2-metadata-token-ttl-seconds": "21600"})', [U+"test_credentials_imds.py"]),
 ("imds-v1-no-budget", C+"imds.py", "return None, time.monotonic() + self.timeout.read / 2", "return None, None", [U+"test_credentials_imds.py", U+"test_credentials_chain.py"]),
 ("imds-error-json-accepted", C+"imds.py", 'fields = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")\n        if not isinstance(doc, dict) or not all', 'fields = ("AccessKeyId",)\n        if not isinstance(doc, dict) or not all', [U+"test_credentials_imds.py"]),
 ("imds-disabled-ignored", C+"imds.py", 'if _true(env.get("AWS_EC2_METADATA_DISABLED")):', 'if False:', [U+"test_credentials_imds.py", U+"test_credentials_chain.py"]),
 ("imds-ipv6-address", C+"imds.py", 'IPV6_URL = "http://[fd00:ec2::254]"', 'IPV6_URL = "http://169.254.169.254"', [U+"test_credentials_imds.py"]),
 ("imds-default-address", C+"imds.py", 'IPV4_URL = "http://169.254.169.254"', 'IPV4_URL = "http://127.0.0.1:9"', [U+"test_credentials_chain.py"]),
 ("imds-region-path", C+"imds.py", '_REGION_PATH = "/latest/meta-data/placement/region"', '_REGION_PATH = "/latest/meta-data/placement/availability-zone"', [U+"test_credentials_imds.py"]),
 ("imds-no-settings", C+"imds.py", "            settings = yield Call(self._settings_fn)", "            settings = yield Call(dict)", [U+"test_credentials_imds.py"]),
 ("container-no-token-file", C+"container.py", "        path = self.env.get(TOKEN_FILE)\n", "        path = None\n", [U+"test_credentials_container.py", IT+"test_credentials_e2e.py"]),
 ("container-token-read-once", C+"container.py", "            token = yield from self._token()  # every time: the file may have been rotated", "            token = self.__dict__.get('_t') or (yield from self._token()); self.__dict__['_t'] = token", [U+"test_credentials_container.py"]),
 ("container-crlf-ok", C+"container.py", 'if "\\r" in token or "\\n" in token:', 'if False:', [U+"test_credentials_container.py"]),
 ("container-any-host", C+"container.py", 'if ep.scheme == "http" and not (_loopback(ep.host) or ep.host.lower() in _ALLOWED_HTTP_HOSTS):', 'if False:', [U+"test_credentials_container.py"]),
 ("container-one-attempt", C+"container.py", "self.attempts = max(1, attempts)", "self.attempts = 1", [U+"test_credentials_container.py"]),
 ("container-relative-host", C+"container.py", 'ECS_BASE = "http://169.254.170.2"', 'ECS_BASE = "http://127.0.0.1:9"', [U+"test_credentials_chain.py"]),
 ("container-no-accept", C+"container.py", 'headers = {"accept": "application/json"}', 'headers = {}', [U+"test_credentials_container.py"]),
 ("sso-no-expiry-check", C+"sso.py", "        if expires <= now:\n", "        if False:\n", [U+"test_credentials_sso.py"]),
 ("sso-no-login-hint", C+"sso.py", 'return f"run `aws sso login --profile {self.profile}`"', 'return "log in again"', [U+"test_credentials_sso.py"]),
 ("sso-cache-key-start-url", C+"sso.py", 'path = token_cache_path(session or conf["sso_start_url"], self.cache_dir)', 'path = token_cache_path(conf["sso_start_url"], self.cache_dir)', [U+"test_credentials_sso.py", IT+"test_credentials_e2e.py"]),
 ("sso-no-renewal", C+"sso.py", "if session and expires - now < TOKEN_REFRESH_WINDOW and self._refreshable(doc, now):", "if False:", [U+"test_credentials_sso.py"]),
 ("sso-no-writeback", C+"sso.py", "            yield Call(_write_json, path, new)", "            pass", [U+"test_credentials_sso.py"]),
 ("sso-bad-header", C+"sso.py", 'headers={"x-amz-sso_bearer_token": token,', 'headers={"authorization": token,', [U+"test_credentials_sso.py", IT+"test_credentials_e2e.py"]),
 ("sso-ms-expiration", C+"sso.py", 'parse_time(rc["expiration"])', 'float(rc["expiration"])', [U+"test_credentials_sso.py"]),
 ("sso-ignore-session", C+"sso.py", '        session = prof.get("sso_session")\n        if session:', '        session = prof.get("sso_session")\n        if False:', [U+"test_credentials_sso.py"]),
 ("sso-default-portal", C+"sso.py", 'or "https://" + aws_host("portal.sso", region))', 'or "https://portal.sso.amazonaws.com")', [U+"test_credentials_sso.py"]),
 ("sso-world-readable-cache", C+"sso.py", "os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)", "os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)", [U+"test_credentials_sso.py"]),
 ("sts-unsigned", C+"sts.py", "        if credentials is not None:\n            amz_date", "        if False:\n            amz_date", [IT+"test_credentials_sts.py"]),
 ("sts-no-session-token-header", C+"sts.py", '                headers["x-amz-security-token"] = credentials.session_token', '                pass', [IT+"test_credentials_sts.py"]),
 ("sts-webid-token-once", C+"sts.py", "def _read_text(path: str) -> str:\n    with open(path, encoding=\"utf-8\") as f:\n        return f.read()", "_RT: dict = {}\ndef _read_text(path: str) -> str:\n    if path not in _RT:\n        _RT[path] = open(path).read()\n    return _RT[path]", [IT+"test_credentials_sts.py"]),
 ("sts-no-loop-detection", C+"sts.py", "if sp in visited and not (sp == name and static):", "if False:", [IT+"test_credentials_sts.py"]),
 ("sts-no-self-reference", C+"sts.py", "if sp in visited and not (sp == name and static):", "if sp in visited:", [IT+"test_credentials_sts.py", U+"test_credentials_chain.py"]),
 ("sts-endpoint-order", C+"sts.py", 'url = configured_endpoint("STS", "sts", env, settings, services or {})', 'url = env.get("AWS_ENDPOINT_URL") or configured_endpoint("STS", "sts", env, settings, services or {})', [IT+"test_credentials_sts.py"]),
 ("sts-no-legacy", C+"sts.py", 'if mode == "legacy" and region in _LEGACY_GLOBAL:', 'if False:', [IT+"test_credentials_sts.py"]),
 ("sts-no-mfa", C+"sts.py", "        if self.mfa_serial:\n", "        if False:\n", [IT+"test_credentials_sts.py"]),
 ("sts-no-retry", C+"sts.py", "if res.status >= 500 or res.status == 429 or code in _RETRY_CODES:", "if False:", [IT+"test_credentials_sts.py"]),
 ("sts-no-external-id", C+"sts.py", '            params["ExternalId"] = self.external_id', '            pass', [IT+"test_credentials_sts.py"]),
 ("sts-no-account", C+"sts.py", "        account = arn.text.split(\":\")[4] or None", "        account = None", [IT+"test_credentials_sts.py"]),
 ("sts-both-sources-ok", C+"sts.py", "        if sp and cs:\n", "        if False:\n", [IT+"test_credentials_sts.py"]),
 ("sts-region-ignored", C+"sts.py", '    return (region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or settings.get("region")\n            or "us-east-1")', '    return "us-east-1"', [IT+"test_credentials_sts.py"]),
 ("sts-services-ignored", C+"sts.py", '        services = self.config.services(settings) if settings.get("services") else {}', '        services = {}', [IT+"test_credentials_sts.py"]),
 ("sts-no-cn", C+"wire.py", '    if region.startswith("cn-"):', '    if False:', [IT+"test_credentials_sts.py"]),
 ("sts-ignore-flag", C+"wire.py", '    if ignore.strip().lower() == "true":', '    if False:', [IT+"test_credentials_sts.py"]),
 ("wire-no-redact", C+"wire.py", "    for s in secrets:\n        if s and len(s) >= 4:", "    for s in ():\n        if s and len(s) >= 4:", [IT+"test_credentials_secrets.py", U+"test_credentials_container.py", IT+"test_credentials_sts.py"]),
 ("wire-frac-ignored", C+"wire.py", "    if frac:\n", "    if False:\n", [U+"test_credentials_imds.py"]),
 ("wire-zone-ignored", C+"wire.py", '    if zone and zone not in ("Z", "z", "UTC"):', '    if False:', [U+"test_credentials_imds.py"]),
 ("wire-ms-ignored", C+"wire.py", "return v / 1000.0 if v > 1e11 else v", "return v", [U+"test_credentials_imds.py", U+"test_credentials_sso.py"]),
 ("wire-host-header-port", C+"wire.py", "        return host if self.port == default else f\"{host}:{self.port}\"", "        return host", [IT+"test_credentials_sts.py"]),
 ("wire-no-ipv6-brackets", C+"wire.py", 'host = f"[{self.host}]" if ":" in self.host else self.host', 'host = self.host', [U+"test_credentials_chain.py", U+"test_credentials_imds.py"]),
 ("init-heavy-import", C+"__init__.py", "import os\nimport time\n", "import os\nimport time\nimport json  # noqa\n", [U+"test_credentials_chain.py"]),
]

def run(files):
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *files],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    failed = sorted(set(re.findall(r"^FAILED (.+?)(?: - .*)?$", r.stdout, re.M)))
    errors = sorted(set(re.findall(r"^ERROR (.+?)(?: - .*)?$", r.stdout, re.M)))
    return failed + errors, r.stdout[-400:]

only = sys.argv[1:]
results = {}
for name, path, old, new, files in ({"2": M2, "3": M3}.get(os.environ.get("BATCH", ""), M)):
    if only and name not in only:
        continue
    p = os.path.join(ROOT, path)
    orig = open(p).read()
    if orig.count(old) != 1:
        results[name] = {"error": f"pattern found {orig.count(old)} times"}
        print(name, "PATTERN", orig.count(old), flush=True)
        continue
    try:
        open(p, "w").write(orig.replace(old, new))
        failed, tail = run(files)
    finally:
        open(p, "w").write(orig)
    results[name] = {"failed": failed}
    print(f"{name}: {len(failed)} failed" + ("" if failed else "  <-- SURVIVED\n" + tail), flush=True)
json.dump(results, open(os.environ.get("OUT", f"/tmp/credmutants-{os.environ.get('BATCH', '1')}.json"), "w"), indent=1)
