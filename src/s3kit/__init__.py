"""s3kit: a small, fast, careful S3 client.

    from s3kit import S3Client
    with S3Client("http://127.0.0.1:7480", "key", "secret") as s3:
        bucket = s3.create_bucket("photos")
        bucket.put("cat.jpg", b"...")
"""

from .client import S3Client
from .config import Timeout
from .credentials import Credentials
from .errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketNotEmpty,
    ChecksumMismatch,
    ConnectTimeout,
    CredentialsError,
    DeleteError,
    EventLoopError,
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

__version__ = "0.2.0.dev0"

# Loaded when first named (see _lazy.py): what sits behind S3Bucket, the async client and
# the records (typing.NamedTuple) is not needed to import s3kit or construct a client.
_LAZY = {"S3Bucket": "bucket", "ObjectInfo": "models", "PutResult": "models", "Listing": "models",
         "AsyncS3Client": "aio", "AsyncS3Bucket": "aio"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 's3kit' has no attribute {name!r}")


TYPE_CHECKING = False
if TYPE_CHECKING:
    from .aio import AsyncS3Bucket, AsyncS3Client
    from .bucket import S3Bucket
    from .models import Listing, ObjectInfo, PutResult

__all__ = [
    "S3Client", "S3Bucket", "AsyncS3Client", "AsyncS3Bucket", "S3Error", "Credentials", "Retry", "Timeout",
    "ObjectInfo", "PutResult", "Listing",
    "AccessDenied", "BucketAlreadyExists", "BucketNotEmpty", "ChecksumMismatch", "ConnectTimeout",
    "CredentialsError", "DeleteError", "EventLoopError", "IncompleteBody", "InvalidArgument", "InvalidBucketName",
    "InvalidKey",
    "InvalidRange", "InvalidType", "LocalFileChanged", "NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NotModified",
    "OperationTimeout", "PoolTimeout", "PreconditionFailed", "ProtocolError", "ReadTimeout",
    "TransportError",
]
