"""The ``s3kit`` command: ls, mb, rb, cp, mv, rm, cat, presign, sync.

Exit codes: 0 success, 1 an operation failed (each reported on stderr), 2 usage error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .escape import escape
from .filters import FilterAction
from .paths import UsageError

__all__ = ["main"]


def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("--endpoint-url", default=d, help="S3 endpoint (default: AWS_ENDPOINT_URL or AWS)")
    p.add_argument("--profile", default=d, help="profile in ~/.aws/credentials and ~/.aws/config")
    p.add_argument("--region", default=d, help="region (default: AWS_REGION, profile, us-east-1)")
    p.add_argument("--no-verify-ssl", action="store_true", default=d or False, help="do not verify TLS certificates")
    p.add_argument("--concurrency", type=int, default=d, help="parallel transfers (default 8)")
    p.add_argument("--quiet", "-q", action="store_true", default=d or False, help="print only errors")
    p.add_argument("--no-progress", action="store_true", default=d or False, help="no progress bars")
    p.add_argument("--debug", action="store_true", default=d or False, help="tracebacks and debug logs")


def _filter_options(p: argparse.ArgumentParser) -> None:
    # one list for both options, in command-line order: the last filter that matches decides
    p.add_argument("--exclude", action=FilterAction, dest="filters", metavar="GLOB",
                   help="skip paths matching GLOB (relative to the source directory; * matches /)")
    p.add_argument("--include", action=FilterAction, dest="filters", metavar="GLOB",
                   help="do not skip paths matching GLOB (only a later --exclude overrides it)")


def _symlink_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--follow-symlinks", dest="follow_symlinks", action="store_true", default=True,
                   help="upload what symbolic links point to (the default)")
    p.add_argument("--no-follow-symlinks", dest="follow_symlinks", action="store_false",
                   help="skip symbolic links in a source directory")


def _json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line, with exact names")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3kit", description="Fast, careful S3 from the command line.")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ls", parents=[common], help="list buckets, or objects under s3://bucket/prefix")
    p.add_argument("path", nargs="?")
    p.add_argument("--recursive", "-r", action="store_true")
    p.add_argument("--human-readable", "-H", action="store_true")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("mb", parents=[common], help="make a bucket")
    p.add_argument("path")

    p = sub.add_parser("rb", parents=[common], help="remove a bucket")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="delete every object first")

    for name, text in (("cp", "copy files/objects"), ("mv", "move files/objects")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("src")
        p.add_argument("dst")
        p.add_argument("--recursive", "-r", action="store_true")
        p.add_argument("--content-type")
        p.add_argument("--metadata", nargs="+", default=[], metavar="K=V")
        p.add_argument("--dryrun", action="store_true")
        _filter_options(p)
        _symlink_options(p)
        _json_option(p)

    p = sub.add_parser("rm", parents=[common], help="delete objects")
    p.add_argument("path")
    p.add_argument("--recursive", "-r", action="store_true")
    p.add_argument("--dryrun", action="store_true")
    _filter_options(p)
    _json_option(p)

    p = sub.add_parser("cat", parents=[common], help="write an object to stdout")
    p.add_argument("path")

    p = sub.add_parser("presign", parents=[common], help="print a presigned URL")
    p.add_argument("path")
    p.add_argument("--expires", type=int, default=3600, help="seconds, 1 to 604800 (default 3600)")
    p.add_argument("--method", default="GET", choices=["GET", "PUT", "HEAD", "DELETE"])

    p = sub.add_parser("sync", parents=[common], help="copy what is missing or differs")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--delete", action="store_true", help="delete destination files absent from the source")
    p.add_argument("--dryrun", action="store_true")
    p.add_argument("--content-type")
    p.add_argument("--metadata", nargs="+", default=[], metavar="K=V")
    _filter_options(p)
    _symlink_options(p)
    _json_option(p)
    return parser


def _debug_logging() -> None:
    import logging  # only here: the CLI starts without it

    class EscapingFormatter(logging.Formatter):
        """--debug lines quote keys and server answers: escaped like all other output."""

        def formatMessage(self, record: logging.LogRecord) -> str:
            return escape(super().formatMessage(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter())
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        _debug_logging()
    from ..errors import S3Error
    from .commands import Context, run

    ctx = None
    try:
        ctx = Context(args)
        return run(ctx)
    except UsageError as e:
        parser.print_usage(sys.stderr)
        print(escape(f"s3kit: error: {e}"), file=sys.stderr)
        return 2
    except S3Error as e:
        if args.debug:
            raise
        # the message is the server's text and may quote a key: escaped like every name
        print(escape(f"s3kit: error: {e}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("s3kit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (s3kit cat ... | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    sys.exit(main())
