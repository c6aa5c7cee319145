"""Shared parts of the database commands: the data folder, who acts, passwords from stdin, one-line errors.

Who acts (the rule every changing command follows):

- ``--user NAME --password-stdin``: the command logs in as NAME; the FIRST line on stdin is NAME's password.
  Commands that also set a password (``users add``, ``users passwd``) read it from the NEXT line.
- While the station has no user at all, ``users add NAME --password-stdin`` needs no ``--user``: it creates the
  first admin (its role must be admin, which is also the default then). Every other changing command refuses
  until that admin exists.
- Reading (``users list``, ``product list``, ``audit verify``) needs no login.

The login, a failed login and the logout at the end are recorded in the audit trail like the GUI's.
Exit status: 0 done, 1 failed (the message says why), 2 bad usage, 3 refused (login failed, or the role may not).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from core.cli.common import ArgumentParser
from core.errors import InspectionError

from ..auth import AuthSession
from ..auth_errors import AuthenticationError, PermissionDenied
from ..engine import default_data_dir
from ..errors import DatabaseError
from ..guarded import GuardedDatabase
from ..repository import Database
from ..users import UserInfo

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the station's data folder (default: $INSPECTION_DATA_DIR, else the user data folder)",
    )


def add_actor(parser: argparse.ArgumentParser, *, password_help: str = "read the password(s) from stdin") -> None:
    parser.add_argument(
        "--user", default=None, metavar="NAME", help="act as this user (first stdin line: the password)"
    )
    parser.add_argument("--password-stdin", action="store_true", help=password_help)


def make_parser(prog: str, description: str) -> ArgumentParser:
    return ArgumentParser(prog=prog, description=description)


class Passwords:
    """Passwords from stdin, one a line, in the order the command asks for them (a terminal is asked without echo)."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self._stream = stream
        self.read: list[str] = []  # what was read so far, in order (kept only for the command's own run)

    def next(self, what: str) -> str:
        if not self.enabled:
            raise UsageError(f"{what} is needed: give it on stdin with --password-stdin")
        stream = self._stream if self._stream is not None else sys.stdin
        if stream.isatty():
            line = getpass.getpass(f"{what}: ")
        else:
            line = stream.readline()
            if line.endswith("\n"):
                line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        if not line:
            raise UsageError(f"{what} is missing on stdin (one password a line)")
        self.read.append(line)
        return line


class UsageError(Exception):
    """The command line cannot work as given (exit status 2)."""


def data_folder(args: argparse.Namespace) -> Path:
    return default_data_dir(args.data_dir)


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[GuardedDatabase]:
    database = Database.open(data_folder(args))
    try:
        yield GuardedDatabase(database)
    finally:
        database.close()


@contextmanager
def acting(guarded: GuardedDatabase, args: argparse.Namespace, passwords: Passwords) -> Iterator[UserInfo]:
    """Log in as ``--user`` for the command (logging out at the end); refuses when no user exists yet."""
    if not args.user:
        if guarded.users.count() == 0:
            raise PermissionDenied(
                "The station has no users yet: create the first admin with "
                "'main.py users add NAME --role admin --password-stdin'."
            )
        raise UsageError("say who acts: --user NAME --password-stdin (the password on the first stdin line)")
    password = passwords.next(f"password of {args.user}")
    auth = AuthSession(guarded.users, via="cli")
    result = auth.login(args.user, password)
    if not result.ok:
        raise AuthenticationError(result.message, status=result.status.value, locked_until=result.locked_until)
    try:
        assert auth.current is not None
        yield auth.current
    finally:
        try:
            auth.logout()
        except DatabaseError:
            pass  # the command's own work is done; a missed logout event is not worth failing it


def run(fn: Callable[[], int]) -> int:
    """Run a command: one line on stderr and an exit status for every expected failure, never a traceback."""
    try:
        return fn()
    except UsageError as exc:
        print(f"error: {exc} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    except (PermissionDenied, AuthenticationError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (DatabaseError, InspectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


__all__ = [
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "Passwords",
    "UsageError",
    "acting",
    "add_actor",
    "add_data_dir",
    "data_folder",
    "make_parser",
    "opened",
    "run",
]
