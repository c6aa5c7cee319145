"""Headless chat and prompt-learner training.

python main.py chat --ref R.png [--ref ...] IMAGE "question" [--json]
python main.py train-prompts [--images DIR] [--out DIR] [--steps N] [--fast] [--lora] ...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.cli.common import ArgumentParser, run_guarded


def _guarded(fn: Callable[[], int]) -> int:
    """One line on stderr and a non-zero exit for every failure, never a traceback."""

    def inner() -> int:
        try:
            return fn()
        except (MemoryError, RuntimeError, ValueError) as exc:
            print(f"error: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
            return 1

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return run_guarded(inner)


# -- chat -----------------------------------------------------------------------------------------------------------


def chat_parser() -> ArgumentParser:
    p = ArgumentParser(prog="main.py chat", description="Inspect one image, then answer a question about it.")
    p.add_argument("image", help="image of the part to inspect")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--ref", action="append", default=[], metavar="PATH", help="normal reference image (repeat)")
    p.add_argument(
        "--json", action="store_true", help='print {"answer", "verdict", "probability", "regions", "timings_ms"}'
    )
    p.add_argument("--product", default=None, help="product name to mention (optional)")
    p.add_argument("--max-new-tokens", type=int, default=40, help="most tokens the model adds (default 40)")
    p.add_argument("--lm", default=None, help="local HF causal-LM folder or .gguf (default: SmolLM2 package)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (1 is fastest on a busy 2-core machine; default: torch's choice)",
    )
    return p


def chat_main(argv: list[str]) -> int:
    args = chat_parser().parse_args(argv)
    return _guarded(lambda: _chat(args))


def _chat(args: argparse.Namespace) -> int:
    from core.chat.errors import ChatInputError
    from core.chat.generation import DecodeSettings
    from core.chat.lm_loader import resolve_source
    from core.chat.loading import open_chat
    from core.errors import ReferencesError
    from core.imageio import load_image
    from core.inspector import Inspector

    if not args.ref:
        raise ReferencesError("no reference images: pass at least one --ref PATH of a good part")
    if not args.question.strip():
        raise ChatInputError("the question is empty: pass it in quotes after the image")
    if args.max_new_tokens < 0:
        raise ChatInputError("--max-new-tokens must be 0 or more")
    if args.threads is not None:
        if args.threads < 1:
            raise ChatInputError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    refs = [load_image(p) for p in args.ref]
    frame = load_image(args.image)
    resolve_source(args.lm)  # a missing language model is reported before the inspection runs
    t0 = time.perf_counter()
    inspector = Inspector()
    product = inspector.build_product(refs, name=args.product or "cli")
    t1 = time.perf_counter()
    result = inspector.inspect(frame, product)
    t2 = time.perf_counter()
    session, info = open_chat(lm_path=args.lm, settings=DecodeSettings(max_new_tokens=args.max_new_tokens))
    if info["warning"]:
        print(f"warning: {info['warning']}", file=sys.stderr)
    t3 = time.perf_counter()
    session.set_inspection(result, frame, args.product)
    answer = session.answer(args.question)
    t4 = time.perf_counter()
    rep = session.last_report
    if args.json:
        timings = {
            "inspection": round(result.timings_ms.get("total", (t2 - t1) * 1e3), 1),
            "product_build": round((t1 - t0) * 1e3, 1),
            "model_load": round((t3 - t2) * 1e3, 1),
            "first_token": None if rep.first_token_s is None else round(rep.first_token_s * 1e3, 1),
            "answer": round((t4 - t3) * 1e3, 1),
        }
        print(
            json.dumps(
                {
                    "answer": answer,
                    "verdict": result.verdict,
                    "probability": round(float(result.probability), 4),
                    "regions": [r.to_dict() for r in result.regions],
                    "timings_ms": timings,
                }
            )
        )
    else:
        print(answer)
    return 0


# -- train-prompts ---------------------------------------------------------------------------------------------------


def train_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="main.py train-prompts",
        description="Train the chat's prompt learner on simulated anomalies (the LM stays frozen).",
    )
    p.add_argument(
        "--images",
        default=None,
        metavar="DIR",
        help="folder of normal images (each sub-folder one product); default: demo images + textures",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default resources/prompt_learner/<lm>)")
    p.add_argument("--steps", type=int, default=180, help="optimiser steps (default 180)")
    p.add_argument("--batch", type=int, default=4, help="examples per step (default 4)")
    p.add_argument("--samples", type=int, default=240, help="training samples to simulate (default 240)")
    p.add_argument("--held-out", type=int, default=32, help="held-out samples for the figures (default 32)")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="maps from the blurred simulated mask, not the inspector")
    p.add_argument("--lora", action="store_true", help="also train rank-4 LoRA adapters on q/v projections")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--lm", default=None, help="local HF causal-LM folder or .gguf (default: SmolLM2 package)")
    return p


def train_main(argv: list[str]) -> int:
    args = train_parser().parse_args(argv)
    return _guarded(lambda: _train(args, argv))


def _ticker(bar: Any) -> Callable[[int], None]:
    """A progress callback that advances a tqdm bar by one."""

    def tick(_done: int) -> None:
        bar.update(1)

    return tick


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from core.chat.errors import ChatInputError
    from core.chat.lm_loader import load_language_model
    from core.chat.loading import prompt_learner_dir
    from core.chat.training import TrainConfig, train_prompt_learner
    from core.chat.training_data import MapSource, build_samples, default_families, folder_families
    from core.errors import DatasetError
    from core.imageio import load_image

    for name in ("steps", "batch", "samples"):
        if getattr(args, name) < 1:
            raise ChatInputError(f"--{name} must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    root = Path(__file__).resolve().parents[2]
    if args.images:
        folder = Path(args.images)
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such folder of normal images (--images)")
        families = folder_families(folder, load_image)
        data_desc = f"normal images from {folder}"
    else:
        families = default_families(root, load_image)
        data_desc = "demo product's good parts (resources/demo) + 6 procedural texture families x 4"
    if not families or sum(len(f) for f in families) < 2:
        raise DatasetError("need at least two normal images to train on (--images DIR)")

    print("loading the language model ...", file=sys.stderr)
    lm = load_language_model(args.lm)
    out = Path(args.out) if args.out else prompt_learner_dir(lm.lm_id)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{out}: cannot create the output folder ({exc.strerror})") from exc

    inspector = None
    if not args.fast:
        from core.inspector import Inspector

        inspector = Inspector()
    maps = MapSource(fast=args.fast, inspector=inspector)
    samples = []
    for label, n, seed in (
        ("training data", args.samples, args.seed),
        ("held-out data", args.held_out, args.seed + 10_000),
    ):
        with tqdm(total=n, desc=f"simulating {label}", unit="img", file=sys.stderr) as bar:
            samples.append(build_samples(families, n, np.random.default_rng(seed), maps, progress=_ticker(bar)))
    train, held = samples
    t_data = time.perf_counter() - t_start

    config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, lora=args.lora, seed=args.seed)
    with tqdm(total=args.steps, desc="training prompt learner", unit="step", file=sys.stderr) as bar:

        def progress(step: int, loss: float) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")

        outcome = train_prompt_learner(lm.model, lm.tokenizer, train, held, config, progress=progress)

    import transformers

    manifest: dict[str, Any] = {
        "lm_id": lm.lm_id,
        "lm_source": lm.source,
        "command": "python main.py train-prompts " + shlex.join(argv),
        "data": {
            "description": data_desc,
            "families": len(families),
            "normal_images": sum(len(f) for f in families),
            "training_samples": len(train),
            "training_defective": sum(int(s.defective) for s in train),
            "held_out_samples": len(held),
            "held_out_note": "same image families, other simulated defects (seed + 10000)",
            "anomaly_maps": "blurred simulated mask + noise (--fast)"
            if args.fast
            else "core Inspector, 1 reference per family (the family's first image)",
            "kinds": sorted({s.kind for s in train}),
        },
        "training": outcome.config,
        "steps_done": len(outcome.losses),
        "final_loss": round(outcome.final_loss, 4),
        "first_loss": round(float(np.mean(outcome.losses[:10])), 4) if outcome.losses else None,
        "held_out_before": outcome.held_out_before,
        "held_out": outcome.held_out,
        "seconds": {
            "data": round(t_data, 1),
            "training": round(outcome.seconds, 1),
            "total": round(time.perf_counter() - t_start, 1),
        },
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, threads {torch.get_num_threads()}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    outcome.learner.save(out, manifest, outcome.lora_state)
    ho = outcome.held_out
    print(
        f"wrote {out}: loss {manifest['first_loss']} -> {manifest['final_loss']}, held-out yes/no accuracy "
        f"{ho.get('yes_no_accuracy')}, defect kind accuracy {ho.get('kind_accuracy')}, "
        f"{manifest['seconds']['total']:.0f} s"
    )
    return 0
