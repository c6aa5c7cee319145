"""`python main.py settings list|set ...`: the station settings an admin sets, headless (the window's Users tab
sets the same ones).

    settings list [--data-dir D]
    settings set idle_logout_s 300 --user ADMIN --password-stdin [--data-dir D]
    settings set threshold_guard_share 0.05 --user ADMIN --password-stdin

The value is checked and stored by db/guarded.py (the admin's right, the audit event); the acting admin's password
comes on stdin.
"""

from __future__ import annotations

import argparse

from ..guarded import DEFAULT_IDLE_LOGOUT_S, IDLE_LOGOUT_SETTING
from ..threshold_moves import THRESHOLD_GUARD_SETTING, guard_share
from .common import Passwords, UsageError, acting, add_actor, add_data_dir, make_parser, opened, run

SETTINGS = {
    IDLE_LOGOUT_SETTING: "seconds without a key press or click before the window logs a person out",
    THRESHOLD_GUARD_SETTING: "share (0 to 1) of a product's recent failures a threshold move may let pass before a "
    "second engineer or admin must confirm it",
}


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py settings", "Show or change the station settings (admin).")
    sub = p.add_subparsers(dest="command", metavar="list|set")
    sub.required = True
    ls = sub.add_parser("list", help="the settings, their values and what they mean")
    add_data_dir(ls)
    st = sub.add_parser("set", help="change a setting (audited)")
    st.add_argument("key", choices=sorted(SETTINGS))
    st.add_argument("value", help="a number")
    add_actor(st, password_help="read the acting admin's password from stdin")
    add_data_dir(st)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"the value must be a number (got {text!r})") from None


def _run(args: argparse.Namespace) -> int:
    passwords = Passwords(bool(getattr(args, "password_stdin", False)))
    with opened(args) as guarded:
        if args.command == "list":
            idle = guarded.get_station_setting(IDLE_LOGOUT_SETTING, DEFAULT_IDLE_LOGOUT_S)
            share = guard_share(guarded.get_station_setting(THRESHOLD_GUARD_SETTING))
            for key, value in ((IDLE_LOGOUT_SETTING, idle), (THRESHOLD_GUARD_SETTING, share)):
                print(f"{key}\t{value:g}\t{SETTINGS[key]}")
            return 0
        value = _number(args.value)
        with acting(guarded, args, passwords) as actor:
            guarded.set_station_setting(actor, args.key, value)
        print(f"{args.key} = {value:g}")
        return 0


__all__ = ["SETTINGS", "build_parser", "main"]
