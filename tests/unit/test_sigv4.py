"""SigV4 against AWS's worked examples (../shared/sigv4-vectors.md) and the generic suite."""

from __future__ import annotations

import hashlib
import string

import pytest

from s3kit import sigv4

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TS = "20130524T000000Z"
HOST = "examplebucket.s3.amazonaws.com"
E = sigv4.EMPTY_SHA256


def sig_of(auth: str) -> str:
    return auth.rsplit("Signature=", 1)[1]


def test_signing_key_matches_documented_value() -> None:
    assert sigv4.signing_key(SK, "20130524", "us-east-1", "s3").hex() == (
        "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
    )


def test_get_object_with_range() -> None:
    headers = {"host": HOST, "range": "bytes=0-9", "x-amz-content-sha256": E, "x-amz-date": TS}
    creq, signed = sigv4.canonical_request("GET", "/test.txt", "", headers, E)
    assert signed == "host;range;x-amz-content-sha256;x-amz-date"
    assert hashlib.sha256(creq.encode()).hexdigest() == (
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    )
    auth = sigv4.authorization("GET", "/test.txt", "", headers, E, access_key=AK, secret_key=SK,
                               region="us-east-1", amz_date_=TS)
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_put_object_dollar_key_encoded_once() -> None:
    body = b"Welcome to Amazon S3."
    ph = hashlib.sha256(body).hexdigest()
    assert ph == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    path = "/" + sigv4.quote_path("test$file.text")
    assert path == "/test%24file.text"
    headers = {"host": HOST, "date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-date": TS,
               "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": ph}
    auth = sigv4.authorization("PUT", path, "", headers, ph, access_key=AK, secret_key=SK,
                               region="us-east-1", amz_date_=TS)
    assert sig_of(auth) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_valueless_subresource_lifecycle() -> None:
    q = sigv4.canonical_query({"lifecycle": None})
    assert q == "lifecycle="
    headers = {"host": HOST, "x-amz-date": TS, "x-amz-content-sha256": E}
    auth = sigv4.authorization("GET", "/", q, headers, E, access_key=AK, secret_key=SK,
                               region="us-east-1", amz_date_=TS)
    assert sig_of(auth) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"


@pytest.mark.parametrize("params", [{"max-keys": "2", "prefix": "J"}, [("prefix", "J"), ("max-keys", "2")]])
def test_list_objects_sorted_query(params: object) -> None:
    q = sigv4.canonical_query(params)  # type: ignore[arg-type]
    assert q == "max-keys=2&prefix=J"
    headers = {"host": HOST, "x-amz-date": TS, "x-amz-content-sha256": E}
    auth = sigv4.authorization("GET", "/", q, headers, E, access_key=AK, secret_key=SK,
                               region="us-east-1", amz_date_=TS)
    assert sig_of(auth) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_presigned_url() -> None:
    qs = sigv4.presign_query("GET", HOST, "/test.txt", {}, access_key=AK, secret_key=SK,
                             session_token=None, region="us-east-1", amz_date_=TS, expires=86400)
    assert f"https://{HOST}/test.txt?{qs}" == (
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_presign_with_session_token_puts_token_in_query() -> None:
    qs = sigv4.presign_query("GET", HOST, "/k", {}, access_key=AK, secret_key=SK, session_token="tok/en",
                             region="us-east-1", amz_date_=TS, expires=60)
    assert "X-Amz-Security-Token=tok%2Fen" in qs


# --- the generic SigV4 suite (service "service"; cases that apply to S3) -------------------

GAK = "AKIDEXAMPLE"
GSK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
GTS = "20150830T123600Z"
GHOST = "example.amazonaws.com"


def generic(method: str, path: str, query: object, extra: dict[str, str] | None = None,
            payload: bytes = b"") -> str:
    headers = {"host": GHOST, "x-amz-date": GTS, **(extra or {})}
    auth = sigv4.authorization(method, path, sigv4.canonical_query(query), headers,  # type: ignore[arg-type]
                               hashlib.sha256(payload).hexdigest(), access_key=GAK, secret_key=GSK,
                               region="us-east-1", amz_date_=GTS, service="service")
    return sig_of(auth)


@pytest.mark.parametrize("method,path,query,extra,payload,expected", [
    ("GET", "/", {}, None, b"", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("POST", "/", {}, None, b"", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("GET", "/", [("Param-3", "Value3"), ("Param", "Value2"), ("\u1234", "Value1")], None, b"",
     "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
    ("GET", "/" + sigv4.quote_path("\u1234"), {}, None, b"",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("GET", "/", {"\u1234": "bar"}, None, b"", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("GET", "/-._~" + string.digits + string.ascii_uppercase + string.ascii_lowercase, {}, None, b"", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    ("GET", "/", {}, {"x-amz-security-token": "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"},
     b"", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
    ("GET", "/", {}, {"my-header1": " value1", "my-header2": ' "a   b   c"'}, b"",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("POST", "/", {}, {"content-type": "application/x-www-form-urlencoded"}, b"Param1=value1",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ("GET", "/" + sigv4.quote_path("example space/"), {}, None, b"",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
])
def test_generic_suite(method: str, path: str, query: object, extra: dict[str, str] | None,
                       payload: bytes, expected: str) -> None:
    assert generic(method, path, query, extra, payload) == expected


def test_s3_paths_are_not_normalised() -> None:
    assert sigv4.quote_path("a//b/../c") == "a//b/../c"
    assert sigv4.quote_path("sp ace+plus?q#h%p&a=b:c@d~e*f'g(h)i!") == (
        "sp%20ace%2Bplus%3Fq%23h%25p%26a%3Db%3Ac%40d~e%2Af%27g%28h%29i%21"
    )
    assert sigv4.quote_path("ünï/κλειδί") == "%C3%BCn%C3%AF/%CE%BA%CE%BB%CE%B5%CE%B9%CE%B4%CE%AF"


def test_query_encoding_rules() -> None:
    assert sigv4.canonical_query({"prefix": "a b/c", "x": ""}) == "prefix=a%20b%2Fc&x="


def test_signing_key_cache_is_bounded() -> None:
    for day in range(100):
        sigv4.signing_key("s", f"2013{day:04d}", "r")
    assert len(sigv4._key_cache) <= 65


def test_own_hmac_and_quote_match_the_stdlib() -> None:
    import hmac
    import random
    from urllib.parse import quote

    rng = random.Random(1)
    for _ in range(300):
        key = rng.randbytes(rng.choice([0, 1, 32, 64, 65, 200]))
        msg = rng.randbytes(rng.randrange(300))
        assert sigv4.hmac_sha256(key, msg) == hmac.digest(key, msg, "sha256")
        s = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)])) for _ in range(20))
        s = s.encode("utf-8", "ignore").decode("utf-8", "ignore")
        assert sigv4.quote_path(s) == quote(s, safe="/~")
        assert sigv4.quote_param(s) == quote(s, safe="~")
