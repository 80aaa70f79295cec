"""s3kit: a small, fast, careful S3 client.

    from s3kit import S3Client
    with S3Client("http://127.0.0.1:7480", "key", "secret") as s3:
        bucket = s3.create_bucket("photos")
        bucket.put("cat.jpg", b"...")
"""

from .bucket import S3Bucket
from .client import S3Client
from .credentials import Credentials
from .errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketNotEmpty,
    ChecksumMismatch,
    ConnectTimeout,
    CredentialsError,
    DeleteError,
    IncompleteBody,
    InvalidArgument,
    InvalidBucketName,
    InvalidKey,
    InvalidRange,
    InvalidType,
    LocalFileChanged,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotModified,
    OperationTimeout,
    PoolTimeout,
    PreconditionFailed,
    ProtocolError,
    ReadTimeout,
    S3Error,
    TransportError,
)
from .retry import Retry
from .transport import Timeout

__version__ = "0.1.0"

_LAZY = {"ObjectInfo": "models", "PutResult": "models", "Listing": "models"}


def __getattr__(name: str) -> object:
    # the result records use typing.NamedTuple: loaded when first named, not at import
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 's3kit' has no attribute {name!r}")

__all__ = [
    "S3Client", "S3Bucket", "S3Error", "Credentials", "Retry", "Timeout",
    "ObjectInfo", "PutResult", "Listing",
    "AccessDenied", "BucketAlreadyExists", "BucketNotEmpty", "ChecksumMismatch", "ConnectTimeout",
    "CredentialsError", "DeleteError", "IncompleteBody", "InvalidArgument", "InvalidBucketName", "InvalidKey",
    "InvalidRange", "InvalidType", "LocalFileChanged", "NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NotModified",
    "OperationTimeout", "PoolTimeout", "PreconditionFailed", "ProtocolError", "ReadTimeout",
    "TransportError",
]
