"""Would a product's own calibration evidence choose self-similarity on or off? Builds each shared category's
1-reference products (seeds 0-2) both ways and prints, per product, how far the simulated defects stand above the
normal stand-ins each way (docs/benchmarks.md "Self-similarity, per category").

    .venv/bin/python tools/self_similarity_study.py --data ../shared/datasets [--out out/s11/self_choice.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CATEGORIES = ("ball_screw", "casting", "grid", "hazelnut_toy", "magnetic_tile")


def separation(evidence: dict) -> dict[str, float]:
    normal = np.log(np.asarray(evidence["jitter"] + evidence["split"]))
    simulated = np.log(np.asarray(evidence["simulated"]))
    return {
        "sep": float(np.mean(simulated[:, None] > normal[None, :])),  # share of simulated above normal stand-ins
        "gap": float(np.median(simulated) - normal.max()),  # median simulated over the highest stand-in (log)
    }


def main() -> int:
    from core.evaluation import references_for
    from core.imageio import load_image
    from core.inspector import Inspector, resolve_settings
    from core.settings import DecoderSettings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    inspector = Inspector(device="cpu")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for category in CATEGORIES:
        for seed in (0, 1, 2):
            refs = [load_image(x) for x in references_for(Path(args.data), category, 1, seed)]
            row = {}
            for on in (True, False):
                settings = DecoderSettings.from_dict({**resolve_settings(None, []).to_dict(), "self_similarity": on})
                product = inspector.build_product(refs, name=category, settings=settings, seed=seed)
                row["on" if on else "off"] = separation(product.info["evidence"])
            out[f"{category}/{seed}"] = row
            print(category, seed, row, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
