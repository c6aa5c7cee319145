"""Shared helpers of the headless commands: one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from core.errors import InspectionError


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like argparse, without the usage dump
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def run_guarded(fn: Callable[[], int]) -> int:
    """Run a command; print InspectionError (and OS errors) on one line and return a non-zero code."""
    try:
        return fn()
    except InspectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
