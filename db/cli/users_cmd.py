"""`python main.py users add|list|disable|enable|role|passwd ...`: the station's users, headless.

    users add NAME --role operator|engineer|admin|line --password-stdin [--user ADMIN] [--data-dir D]
    users list [--data-dir D]
    users disable NAME --user ADMIN --password-stdin
    users enable NAME --user ADMIN --password-stdin
    users role NAME --role operator|engineer|admin|line --user ADMIN --password-stdin
    users passwd NAME --password-stdin [--user ADMIN]

Passwords come on stdin, one a line: first the acting user's (``--user``), then the new one. The very first
``users add`` (no user exists yet) needs no ``--user`` and creates an admin. ``users passwd NAME`` without
``--user`` is NAME changing their own password: first line the current password, second line the new one.
"""

from __future__ import annotations

import argparse

from ..roles import ADMIN, ROLES
from ..users import MIN_PASSWORD_LENGTH
from .common import Passwords, UsageError, acting, add_actor, add_data_dir, make_parser, opened, run


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py users", "Add, list, disable and enable users, and set their passwords.")
    sub = p.add_subparsers(dest="command", metavar="add|list|disable|enable|role|passwd")
    sub.required = True

    add = sub.add_parser("add", help="add a user (the first one must be an admin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default=None, help="the user's role (default for the first user: admin)")
    add_actor(
        add, password_help=f"read the password(s) from stdin (the new one: at least {MIN_PASSWORD_LENGTH} characters)"
    )
    add_data_dir(add)

    ls = sub.add_parser("list", help="list the users and their roles")
    add_data_dir(ls)

    for verb in ("disable", "enable"):
        sp = sub.add_parser(verb, help=f"{verb} a user's account")
        sp.add_argument("name")
        add_actor(sp)
        add_data_dir(sp)

    rl = sub.add_parser("role", help="change a user's role")
    rl.add_argument("name")
    rl.add_argument("--role", choices=ROLES, required=True, help="the new role")
    add_actor(rl)
    add_data_dir(rl)

    pw = sub.add_parser("passwd", help="set a user's password")
    pw.add_argument("name")
    add_actor(pw, password_help="read the passwords from stdin: the acting (or current) one, then the new one")
    add_data_dir(pw)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    passwords = Passwords(bool(getattr(args, "password_stdin", False)))
    with opened(args) as guarded:
        if args.command == "list":
            users = guarded.users.list()
            if not users:
                print("no users yet: add the first admin with 'main.py users add NAME --role admin --password-stdin'")
            for u in users:
                state = "enabled" if u.enabled else "disabled"
                if u.locked():
                    state += f", locked until {u.locked_until:%Y-%m-%d %H:%M:%S} UTC"
                print(f"{u.name}\t{u.role}\t{state}\tcreated {u.created_at:%Y-%m-%d %H:%M} UTC")
            return 0
        if args.command == "add":
            if guarded.users.count() == 0 and not args.user:
                role = args.role or ADMIN
                new = passwords.next(f"new password of {args.name}")
                user = guarded.users.add(None, args.name, role, new)
                print(f"added {user.name} ({user.role}), the station's first user")
                return 0
            if not args.role:
                raise UsageError("say the new user's role: --role operator|engineer|admin|line")
            with acting(guarded, args, passwords) as actor:
                new = passwords.next(f"new password of {args.name}")
                user = guarded.users.add(actor, args.name, args.role, new)
            print(f"added {user.name} ({user.role})")
            return 0
        if args.command in ("disable", "enable"):
            with acting(guarded, args, passwords) as actor:
                user = guarded.users.set_enabled(actor, args.name, args.command == "enable")
            print(f"{user.name} is {'enabled' if user.enabled else 'disabled'}")
            return 0
        if args.command == "role":
            with acting(guarded, args, passwords) as actor:
                user = guarded.users.set_role(actor, args.name, args.role)
            print(f"{user.name} is now {user.role}")
            return 0
        if args.command == "passwd":
            if not args.user:
                args.user = args.name  # changing one's own password: first line is the current one
            with acting(guarded, args, passwords) as actor:
                own = actor.name.lower() == args.name.strip().lower()
                new = passwords.next(f"new password of {args.name}")
                if own:
                    # acting() just checked the current password; set_password checks it again in its transaction
                    user = guarded.users.set_password(actor, args.name, new, current_password=passwords.read[0])
                else:
                    user = guarded.users.set_password(actor, args.name, new)
            print(f"password of {user.name} changed")
            return 0
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover - argparse refuses it first
