"""`python main.py product create|list|override`: products (recipes), headless.

    product create NAME --ref A.png [--ref B.png ...] --user ENGINEER --password-stdin [--data-dir D]
    product list [--data-dir D]
    product override NAME --threshold T|--clear --reason WHY --user ENGINEER [--second NAME --second-reason WHY]
        --password-stdin [--data-dir D]
    product override NAME --threshold T --dry-run [--data-dir D]     (what it would do; nothing is saved)

``override`` sets (or clears) an operator threshold. Before it is saved the product's recent recorded failures are
compared with it; above the admin's share the command prints what the move does and refuses unless a second
engineer or admin confirms (``--second NAME``: their password is the second stdin line).

``create`` checks every reference file, builds and calibrates the product with the core Inspector exactly as the
station does, then stores the product, its references and its calibration in one transaction with their audit
events, and saves the built model where the station looks for it (``<data dir>/models/product-<id>``), so the
station starts on it without rebuilding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import DuplicateError
from ..guarded import GuardedDatabase
from ..products import clean_name
from ..roles import MANAGE_PRODUCTS, MANAGE_REFERENCES
from ..threshold_moves import SecondConfirmation, SecondConfirmationRequired
from .common import (
    EXIT_REFUSED,
    Passwords,
    UsageError,
    acting,
    add_actor,
    add_data_dir,
    data_folder,
    make_parser,
    opened,
    run,
)

MODELS_FOLDER = "models"
CACHE_FOLDER = "cache"


def model_dir(data_dir: Path, product_id: int) -> Path:
    """Where the station keeps a product's built model (desktop/controllers/station.py reads it from here)."""
    return Path(data_dir) / MODELS_FOLDER / f"product-{product_id}"


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py product", "Create and list products (recipes).")
    sub = p.add_subparsers(dest="command", metavar="create|list")
    sub.required = True
    create = sub.add_parser("create", help="create a product from normal reference images and calibrate it")
    create.add_argument("name")
    create.add_argument("--ref", action="append", default=[], metavar="PATH", help="normal reference image (repeat)")
    create.add_argument("--encoder", default="efficientnet-lite0", help="efficientnet-lite0 (default), -lite1, -lite2")
    add_actor(create)
    add_data_dir(create)
    ls = sub.add_parser("list", help="list the products")
    add_data_dir(ls)
    ov = sub.add_parser("override", help="set or clear a product's threshold override (guarded and audited)")
    ov.add_argument("name")
    which = ov.add_mutually_exclusive_group(required=True)
    which.add_argument("--threshold", type=float, default=None, help="the new decision threshold")
    which.add_argument("--clear", action="store_true", help="go back to the automatic threshold")
    ov.add_argument("--reason", default=None, help="why (required)")
    ov.add_argument("--second", default=None, metavar="NAME", help="a second engineer or admin who confirms")
    ov.add_argument("--second-reason", default=None, help="the second person's reason")
    ov.add_argument(
        "--dry-run", action="store_true", help="only say what the new threshold would do to the recent failures"
    )
    add_actor(ov, password_help="read the passwords from stdin: yours, then the second person's")
    add_data_dir(ov)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    with opened(args) as guarded:
        if args.command == "list":
            products = guarded.database.products.list()
            if not products:
                print("no products yet")
            for p in products:
                threshold = p.threshold_in_use
                shown = f"{threshold:.4g}" if threshold is not None else "not calibrated"
                override = f" (override by {p.threshold_override_by})" if p.threshold_override is not None else ""
                print(f"{p.id}\t{p.name}\t{p.reference_count} references\tthreshold {shown}{override}")
            return 0
        if args.command == "create":
            return _create(guarded, args)
        if args.command == "override":
            return _override(guarded, args)
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def _create(guarded: GuardedDatabase, args: argparse.Namespace) -> int:
    from core.errors import ReferencesError
    from core.imageio import load_image

    name = clean_name(args.name)
    if not args.ref:
        raise UsageError("no reference images: pass at least one --ref PATH of a good part")
    passwords = Passwords(bool(args.password_stdin))
    with acting(guarded, args, passwords) as actor:
        guarded.check(actor, MANAGE_PRODUCTS)  # refuse before the slow build
        guarded.check(actor, MANAGE_REFERENCES)
        if any(p.name.lower() == name.lower() for p in guarded.database.products.list()):
            raise DuplicateError(f"A product named {name!r} already exists. Choose another name.")
        images = [load_image(path) for path in args.ref]  # every file is checked before any work starts
        if not images:
            raise ReferencesError("no reference images")
        from core.inspector import Inspector

        folder = data_folder(args)
        inspector = Inspector(args.encoder)
        product = inspector.build_product(
            images,
            name=name,
            progress=lambda frac, msg: print(f"  {int(100 * float(frac)):3d}% {msg}", file=sys.stderr),
            cache_dir=folder / CACHE_FOLDER,
        )
        calibration = product.calibration.to_dict()
        info = guarded.create_product(
            actor, name, references=[Path(p) for p in args.ref], source="file", calibration=calibration
        )
    try:
        product.save(model_dir(folder, info.id))
    except OSError as exc:  # the product is stored; the station rebuilds the model when it first loads it
        print(f"warning: the built model was not saved ({exc}); the station rebuilds it at first use", file=sys.stderr)
    threshold = info.threshold_in_use
    print(
        f"created product {info.name} (#{info.id}) with {info.reference_count} reference"
        f"{'s' if info.reference_count != 1 else ''}, threshold {threshold:.4g}"
        if threshold is not None
        else f"created product {info.name} (#{info.id})"
    )
    return 0


def _override(guarded: GuardedDatabase, args: argparse.Namespace) -> int:
    product = guarded.database.products.get(clean_name(args.name))
    threshold = None if args.clear else float(args.threshold)
    if args.dry_run:
        if threshold is None:
            print(f"product {product.name}: clearing the override goes back to the automatic threshold")
        else:
            print(f"product {product.name}: {guarded.preview_threshold_move(product.id, threshold).summary()}")
        return 0
    passwords = Passwords(bool(args.password_stdin))
    with acting(guarded, args, passwords) as actor:
        confirmation = None
        if args.second:
            second_password = passwords.next(f"password of {args.second}")
            confirmation = SecondConfirmation(args.second, second_password, args.second_reason or "")
        try:
            info = guarded.set_threshold_override(
                actor, product.id, threshold, reason=args.reason, confirmation=confirmation
            )
        except SecondConfirmationRequired as exc:
            print(f"refused: {exc} Run again with --second NAME --second-reason WHY.", file=sys.stderr)
            return EXIT_REFUSED
    if info.threshold_override is None:
        print(f"product {info.name}: override cleared, threshold {info.threshold_in_use}")
    else:
        print(
            f"product {info.name}: threshold overridden to {info.threshold_override:.4g} by {info.threshold_override_by}"
        )
    return 0
