"""`python main.py chat --product NAME [--data-dir D] [--question Q ...]`: a supervisor's chat on a terminal about
a product's history, with no window and no part image.

It opens with the product's day against the week before (parts inspected, rejects, defect rate: today, and today
against last week), then answers questions, from ``--question`` (repeat) or else one a line from stdin, until an
empty line or the end of input. Questions about the history ("how many rejects today?", "defect rate this week vs
last week?", "yield per day this week?") are answered by core/chat's history parser with the exact figures of the
database; a question that names no product is about ``--product``. Anything else goes to core/chat's session,
which says what it can answer (no part is inspected here). No language model is loaded: every number comes from
the database, as in the window's chat.

With ``--ref`` (and an image and a question) this is core's ``chat`` unchanged (core/chat/cli.py): that one
inspects an image. The history chat lives on the database side because core/ never imports db/.

Exit status: 0 answered, 1 the database could not be read, 2 bad usage (an unknown product among them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .common import UsageError, add_data_dir, make_parser, opened, run

OPENING = ("how many parts were inspected today?", "defect rate today compared with last week?")


def wants_history(argv: list[str]) -> bool:
    """The history chat: a product and no reference image (core's chat inspects an image against --ref)."""
    has_product = any(a == "--product" or a.startswith("--product=") for a in argv)
    has_ref = any(a == "--ref" or a.startswith("--ref=") for a in argv)
    return has_product and not has_ref


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py chat", "Ask about a product's inspection history (today, last week, per day).")
    p.add_argument("--product", required=True, metavar="NAME", help="the product's name (or id), as product list shows")
    p.add_argument(
        "--question", action="append", default=[], metavar="Q", help="a question (repeat); default: one a line on stdin"
    )
    p.add_argument("--json", action="store_true", help='print one JSON object a line: {"question", "answer"}')
    add_data_dir(p)
    return p


def main(argv: list[str]) -> int:
    if not wants_history(argv):
        from core.chat.cli import chat_main

        return chat_main(argv)
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args, sys.stdin, sys.stdout))


class ProductChat:
    """Answers about one product's history: the history parser's exact sentences, scoped to the product when the
    question names none; the core session for everything else."""

    def __init__(self, history: Any, product: str) -> None:
        from core.chat.session import ChatSession

        self.history = history
        self.product = product
        self.session = ChatSession(None, history=history)

    def answer(self, question: str) -> str:
        from core.chat.history import answer_history, local_now, looks_like_history, parse_history_question

        if looks_like_history(question):
            intent = parse_history_question(question, local_now(), list(self.history.product_names()))
            if intent is not None:
                if intent.product is None and intent.unknown_product is None:
                    intent = dataclasses.replace(intent, product=self.product)
                return str(answer_history(intent, self.history))
        return self.session.answer(question)


def _product_name(database: Any, wanted: str) -> str:
    products = database.products.list()
    wanted_clean = wanted.strip()
    for p in products:
        if p.name.lower() == wanted_clean.lower() or (wanted_clean.isdigit() and p.id == int(wanted_clean)):
            return str(p.name)
    known = ", ".join(p.name for p in products) or "none yet"
    raise UsageError(f"no product named {wanted!r} (known products: {known})")


def _questions(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> Iterator[str]:
    if args.question:
        yield from (q for q in args.question if q.strip())
        return
    interactive = stdin.isatty()
    while True:
        if interactive:
            print("question (empty line ends): ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or not line.strip():
            return
        yield line.strip()


def _say(stdout: TextIO, as_json: bool, question: str | None, answer: str) -> None:
    if as_json:
        print(json.dumps({"question": question, "answer": answer}), file=stdout, flush=True)
    else:
        print(answer if question is None else f"> {question}\n{answer}", file=stdout, flush=True)


def _run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    with opened(args) as guarded:
        database = guarded.database
        name = _product_name(database, args.product)
        chat = ProductChat(database.history_queries, name)
        opening: Iterable[str] = OPENING
        _say(stdout, args.json, None, " ".join(chat.answer(q) for q in opening))
        for question in _questions(args, stdin, stdout):
            _say(stdout, args.json, question, chat.answer(question))
    return 0
