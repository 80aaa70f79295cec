"""S3's XML: parse answers into records, build the few bodies S3 takes. Pure.

Parsing refuses any DTD: S3 never sends one, and refusing it rules out entity
expansion attacks (billion laughs) and external entities outright.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple
from xml.etree.ElementTree import Element, ParseError, XMLParser
from xml.sax.saxutils import escape

from .errors import ProtocolError
from .models import ObjectInfo, parse_iso_date

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


_CHAR_REF = re.compile(rb"&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));|([\x00-\x08\x0b\x0c\x0e-\x1f])")
_SHIELD = 0xF0000  # a restricted character c travels through the parser as chr(_SHIELD + c)
_UNSHIELD = {_SHIELD + c: c for c in (*range(0, 9), 11, 12, *range(14, 32))}


def _restricted(code: int) -> bool:
    """Characters XML 1.0 forbids even as references (expat rejects them)."""
    return code < 32 and code not in (9, 10, 13)


def _shield(m: re.Match[bytes]) -> bytes:
    if m.group(3) is not None:  # the raw byte (moto writes them unescaped)
        return chr(_SHIELD + m.group(3)[0]).encode()
    code = int(m.group(1), 16) if m.group(1) is not None else int(m.group(2))
    return chr(_SHIELD + code).encode() if _restricted(code) else m.group(0)


def parse(body: bytes) -> Element:
    """Parse an XML body (DTDs refused) into its root element.

    S3 servers write control characters in keys as references XML 1.0 forbids (Ceph RGW:
    ``<Key>a&#x1b;b</Key>``) or even raw (moto); those are read exactly, not rejected.
    """
    # XML keywords are case-sensitive, so these two tests catch every DTD.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("refusing XML with a DTD or entity declarations from the server")
    try:
        return _feed(body)
    except ParseError as e:
        first = e
    shielded = _CHAR_REF.sub(_shield, body)
    if shielded != body:
        try:
            root = _feed(shielded)
        except ParseError:
            pass
        else:
            for el in root.iter():
                if el.text:
                    el.text = el.text.translate(_UNSHIELD)
                if el.tail:
                    el.tail = el.tail.translate(_UNSHIELD)
            return root
    snippet = body[:120].decode("utf-8", "replace")
    raise ProtocolError(f"server sent malformed XML ({first}): {snippet!r}") from None


def _feed(body: bytes) -> Element:
    parser = XMLParser()
    parser.feed(body)
    return parser.close()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(el: Element) -> dict[str, str]:
    """Direct children's text by local name (last one wins)."""
    return {_local(c.tag): (c.text or "") for c in el}


class ErrorInfo(NamedTuple):
    code: str | None
    message: str
    request_id: str | None
    region: str | None
    endpoint: str | None


def parse_error(body: bytes) -> ErrorInfo:
    """Code/Message/RequestId/Region/Endpoint of an ``<Error>`` body; tolerant of junk."""
    if not body or not body.lstrip().startswith(b"<"):
        text = body[:200].decode("utf-8", "replace").strip()
        return ErrorInfo(None, text, None, None, None)
    try:
        root = parse(body)
    except ProtocolError:
        return ErrorInfo(None, body[:200].decode("utf-8", "replace").strip(), None, None, None)
    f = _children(root)
    return ErrorInfo(
        f.get("Code") or None,
        f.get("Message", ""),
        f.get("RequestId") or None,
        f.get("Region") or None,
        f.get("Endpoint") or None,
    )


def is_error_document(body: bytes) -> bool:
    """A 200 answer whose body is an ``<Error>`` (CopyObject, CompleteMultipartUpload)."""
    start = body.lstrip()[:200]
    if start.startswith(b"<?xml"):
        start = start[start.find(b"?>") + 2 :].lstrip()
    return start.startswith(b"<Error>") or start.startswith(b"<Error ")


def parse_list_buckets(body: bytes) -> list[tuple[str, str]]:
    """[(name, creation date text)] from ListAllMyBucketsResult."""
    out = []
    for el in parse(body).iter():
        if _local(el.tag) == "Bucket":
            f = _children(el)
            out.append((f.get("Name", ""), f.get("CreationDate", "")))
    return out


class ListPage(NamedTuple):
    objects: list[ObjectInfo]
    prefixes: list[str]
    truncated: bool
    next_token: str | None


_HEX = {f"{i:02x}": bytes([i]) for i in range(256)}
_HEX.update({k.upper(): v for k, v in _HEX.items()})


def url_decode(s: str) -> str:
    """``unquote_plus`` for listed keys, several times faster on the common shapes.

    encoding-type=url: AWS encodes spaces as '+', RGW as '%20'; both encode '+' as '%2B',
    so plus-decoding is right for either. RGW also encodes every '/' as '%2F'.
    """
    if "+" in s:
        s = s.replace("+", " ")
    if "%" not in s:
        return s
    t = s.replace("%2F", "/")
    if "%" not in t:
        return t
    parts = t.split("%")
    out = [parts[0].encode()]
    for p in parts[1:]:
        b = _HEX.get(p[:2])
        if b is None:  # not an escape: kept as is, as unquote does
            out.append(b"%" + p.encode())
        else:
            out.append(b)
            out.append(p[2:].encode())
    return b"".join(out).decode("utf-8", "replace")


def _decoder(encoding: str | None):  # type: ignore[no-untyped-def]
    return url_decode if encoding == "url" else (lambda s: s)


_fast: dict[str, Any] = {}
_ISO_Z = sys.version_info >= (3, 11)  # fromisoformat() takes "...Z" from 3.11 on


def _fast_patterns() -> dict[str, Any]:
    if not _fast:
        _fast["field"] = re.compile(rb"<(Key|LastModified|ETag|Size|StorageClass)>([^<]*)</")
        _fast["starts"] = re.compile(rb"<Contents>\s*<Key>")
        # the field order AWS and Ceph RGW both use: one match per entry
        _fast["entry"] = re.compile(
            rb"<Contents><Key>([^<]*)</Key><LastModified>([^<]*)</LastModified><ETag>([^<]*)</ETag>"
            rb"(?:<Checksum[A-Za-z]*>[^<]*</Checksum[A-Za-z]*>)*<Size>(\d+)</Size>(?:<Owner>.*?</Owner>)?"
            rb"<StorageClass>([^<]*)</StorageClass>", re.S)
        _fast["truncated"] = re.compile(rb"<IsTruncated>\s*(true|false)\s*</IsTruncated>")
        _fast["token"] = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
        _fast["encoding"] = re.compile(rb"<EncodingType>([^<]*)</EncodingType>")
        _fast["prefix"] = re.compile(rb"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>\s*</CommonPrefixes>")
    return _fast


_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_REF = re.compile(r"&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(lt|gt|amp|quot|apos));")


def _unref(m: re.Match[str]) -> str:
    if m.group(3):
        return _ENTITIES[m.group(3)]
    code = int(m.group(1), 16) if m.group(1) is not None else int(m.group(2))
    return chr(code) if code <= 0x10FFFF else m.group(0)


def _xml_text(b: bytes) -> str:
    """XML text with its five entities and every numeric reference decoded (html.unescape
    would drop control characters, which S3 keys may hold)."""
    s = b.decode("utf-8")
    return _REF.sub(_unref, s) if "&" in s else s


def _scan_list_objects_v2(body: bytes) -> ListPage | None:
    """ListObjectsV2 page by one regex pass: ~2 us/key against ~6 through ElementTree.

    Only for plain S3-shaped bodies (no DTD, CDATA, comments or namespace prefixes);
    returns None when anything is unusual, and the caller parses the full XML instead.
    """
    head = body[:400]
    if b"<!" in body or (b"<ListBucketResult>" not in head and f'<ListBucketResult xmlns="{S3_NS}">'.encode()
                         not in head):
        return None
    pat = _fast_patterns()
    n = body.count(b"<Contents>")
    # each entry must open with its Key, since fields are grouped at each Key
    if body.count(b"<Key>") != n or (body.count(b"<Contents><Key>") != n and len(pat["starts"].findall(body)) != n):
        return None
    enc = pat["encoding"].search(body)
    dec = _decoder("url" if enc and enc.group(1) == b"url" else None)
    fromiso = datetime.fromisoformat if _ISO_Z else parse_iso_date
    new = tuple.__new__  # ObjectInfo(...) runs a Python-level __new__: 3x the cost per key
    entries = pat["entry"].findall(body)
    if len(entries) == n:
        whole = [
            new(ObjectInfo, (dec(_xml_text(k) if b"&" in k else k.decode()), int(size),
                             _etag(e), fromiso(lm.decode()), None, None, sc.decode() or None, None, None, None, None))
            for k, lm, e, size, sc in entries
        ]
        return _page_tail(body, pat, whole, dec)
    objects: list[ObjectInfo] = []
    app = objects.append
    key: str | None = None
    etag = lm = sc = None
    size = 0
    for tag, val in pat["field"].findall(body):
        if tag == b"Key":
            if key is not None:
                app(new(ObjectInfo, (key, size, etag or "", lm, None, None, sc, None, None, None, None)))
            key = dec(_xml_text(val) if b"&" in val else val.decode())
            etag = lm = sc = None
            size = 0
        elif tag == b"Size":
            size = int(val)
        elif tag == b"ETag":
            etag = _etag(val)
        elif tag == b"LastModified":
            lm = fromiso(val.decode())
        else:
            sc = val.decode()
    if key is not None:
        app(new(ObjectInfo, (key, size, etag or "", lm, None, None, sc, None, None, None, None)))
    return _page_tail(body, pat, objects, dec)


def _etag(val: bytes) -> str:
    val = val.replace(b"&quot;", b"")  # ETags come quoted; unescaping in general is slow
    return (_xml_text(val) if b"&" in val else val.decode()).strip('"')


def _page_tail(body: bytes, pat: dict[str, Any], objects: list[ObjectInfo], dec: Any) -> ListPage:
    truncated = pat["truncated"].search(body)
    token = pat["token"].search(body)
    return ListPage(
        objects,
        [dec(_xml_text(p)) for p in pat["prefix"].findall(body)],
        bool(truncated) and truncated.group(1) == b"true",
        _xml_text(token.group(1)) if token else None,
    )


def parse_list_objects_v2(body: bytes) -> ListPage:
    fast = _scan_list_objects_v2(body)
    if fast is not None:
        return fast
    root = parse(body)
    ns = root.tag[: root.tag.find("}") + 1] if root.tag.startswith("{") else ""
    enc = root.findtext(ns + "EncodingType")
    dec = _decoder(enc)
    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    truncated = False
    token = None
    t_contents, t_prefixes = ns + "Contents", ns + "CommonPrefixes"
    t_key, t_size, t_etag, t_lm, t_sc = (ns + n for n in ("Key", "Size", "ETag", "LastModified", "StorageClass"))
    for el in root:
        tag = el.tag
        if tag == t_contents:
            key = size = etag = lm = sc = None
            for c in el:
                ct = c.tag
                if ct == t_key:
                    key = c.text
                elif ct == t_size:
                    size = c.text
                elif ct == t_etag:
                    etag = c.text
                elif ct == t_lm:
                    lm = c.text
                elif ct == t_sc:
                    sc = c.text
            if key is None:
                raise ProtocolError("listing entry without a Key")
            objects.append(
                ObjectInfo(
                    dec(key),
                    int(size or 0),
                    (etag or "").strip('"'),
                    parse_iso_date(lm) if lm else None,
                    None,
                    None,
                    sc,
                )
            )
        elif tag == t_prefixes:
            p = el.findtext(ns + "Prefix")
            if p is not None:
                prefixes.append(dec(p))
        elif tag == ns + "IsTruncated":
            truncated = (el.text or "").strip().lower() == "true"
        elif tag == ns + "NextContinuationToken":
            token = el.text
    return ListPage(objects, prefixes, truncated, token)


def parse_copy_result(body: bytes) -> tuple[str, str | None]:
    """(ETag, LastModified) of CopyObjectResult / CopyPartResult."""
    f = _children(parse(body))
    return f.get("ETag", "").strip('"'), f.get("LastModified")


def parse_location(body: bytes) -> str:
    """GetBucketLocation: empty means us-east-1, ``EU`` means eu-west-1."""
    loc = (parse(body).text or "").strip()
    return {"": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)


def parse_initiate_multipart(body: bytes) -> str:
    upload_id = _children(parse(body)).get("UploadId")
    if not upload_id:
        raise ProtocolError("InitiateMultipartUpload answer has no UploadId")
    return upload_id


def parse_complete_multipart(body: bytes) -> str:
    return _children(parse(body)).get("ETag", "").strip('"')


class PartInfo(NamedTuple):
    number: int
    etag: str
    size: int


def parse_list_parts(body: bytes) -> tuple[list[PartInfo], bool, str | None]:
    root = parse(body)
    parts = []
    truncated, marker = False, None
    for el in root:
        tag = _local(el.tag)
        if tag == "Part":
            f = _children(el)
            parts.append(PartInfo(int(f["PartNumber"]), f.get("ETag", "").strip('"'), int(f.get("Size", 0))))
        elif tag == "IsTruncated":
            truncated = (el.text or "").strip().lower() == "true"
        elif tag == "NextPartNumberMarker":
            marker = el.text
    return parts, truncated, marker


class UploadInfo(NamedTuple):
    key: str
    upload_id: str
    initiated: str | None


def parse_list_uploads(body: bytes) -> tuple[list[UploadInfo], bool, str | None, str | None]:
    root = parse(body)
    ns = root.tag[: root.tag.find("}") + 1] if root.tag.startswith("{") else ""
    dec = _decoder(root.findtext(ns + "EncodingType"))
    uploads = []
    truncated, next_key, next_id = False, None, None
    for el in root:
        tag = _local(el.tag)
        if tag == "Upload":
            f = _children(el)
            uploads.append(UploadInfo(dec(f.get("Key", "")), f.get("UploadId", ""), f.get("Initiated")))
        elif tag == "IsTruncated":
            truncated = (el.text or "").strip().lower() == "true"
        elif tag == "NextKeyMarker":
            next_key = dec(el.text or "")
        elif tag == "NextUploadIdMarker":
            next_id = el.text
    return uploads, truncated, next_key, next_id


def parse_delete_result(body: bytes) -> list[tuple[str, str, str]]:
    """[(key, code, message)] for each key DeleteObjects failed to delete."""
    errors = []
    for el in parse(body):
        if _local(el.tag) == "Error":
            f = _children(el)
            errors.append((f.get("Key", ""), f.get("Code", "Error"), f.get("Message", "")))
    return errors


# --- bodies we send ---------------------------------------------------------------------


def _text(s: str) -> str:
    # XML 1.0 cannot carry most control characters even escaped as entities; S3 documents
    # numeric references for CR/LF, which ElementTree-style escaping would normalise away.
    out = escape(s)
    if any(ord(ch) < 32 for ch in out):
        out = "".join(f"&#{ord(ch)};" if ord(ch) < 32 else ch for ch in out)
    return out


def build_create_bucket(region: str) -> bytes:
    return (
        f'<CreateBucketConfiguration xmlns="{S3_NS}"><LocationConstraint>{_text(region)}'
        "</LocationConstraint></CreateBucketConfiguration>"
    ).encode()


def build_delete(keys: Iterable[str], quiet: bool = True) -> bytes:
    objs = "".join(f"<Object><Key>{_text(k)}</Key></Object>" for k in keys)
    q = "<Quiet>true</Quiet>" if quiet else ""
    return f'<Delete xmlns="{S3_NS}">{q}{objs}</Delete>'.encode()


def build_complete(parts: Iterable[tuple[int, str]], checksums: dict[int, str] | None = None,
                   element: str = "") -> bytes:
    """CompleteMultipartUpload body; ``checksums`` (part -> base64) go in ``<element>``."""
    out = []
    for n, e in parts:
        extra = f"<{element}>{checksums[n]}</{element}>" if checksums and n in checksums else ""
        out.append(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{_text(e)}\"</ETag>{extra}</Part>")
    return f'<CompleteMultipartUpload xmlns="{S3_NS}">{"".join(out)}</CompleteMultipartUpload>'.encode()
