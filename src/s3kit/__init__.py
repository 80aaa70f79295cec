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
    IncompleteBody,
    InvalidArgument,
    InvalidBucketName,
    InvalidKey,
    InvalidRange,
    InvalidType,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotModified,
    PreconditionFailed,
    ProtocolError,
    ReadTimeout,
    S3Error,
    TransportError,
)
from .models import Listing, ObjectInfo, PutResult
from .retry import Retry
from .transport import Timeout

__version__ = "0.1.0"

__all__ = [
    "S3Client", "S3Bucket", "S3Error", "Credentials", "Retry", "Timeout",
    "ObjectInfo", "PutResult", "Listing",
    "AccessDenied", "BucketAlreadyExists", "BucketNotEmpty", "ChecksumMismatch", "ConnectTimeout",
    "CredentialsError", "IncompleteBody", "InvalidArgument", "InvalidBucketName", "InvalidKey",
    "InvalidRange", "InvalidType", "NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NotModified",
    "PreconditionFailed", "ProtocolError", "ReadTimeout", "TransportError",
]
