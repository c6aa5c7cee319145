"""Can a product's stream choose self-similarity on or off without labels? From two `main.py evaluate --dump` runs
of the same products (self-similarity on, the default, and `--set self_similarity=false`), per product: the two-mode
gain (core.line_pool.two_mode_gain) of its test stream's scores each way, and the image AUROC of the way whose
scores split more clearly, "on" where neither splits (docs/benchmarks.md "Self-similarity, per category").

    .venv/bin/python tools/self_similarity_stream.py out/s11/k1_cold_dump.json out/s11/k1_noself_dump.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(on_path: str, off_path: str) -> int:
    from sklearn.metrics import roc_auc_score

    from core.line_pool import two_mode_gain
    from tools.dump_pairs import paired_runs

    picked: dict[str, list[float]] = {}
    for r, o in paired_runs(on_path, off_path):
        gain_on, gain_off = two_mode_gain(r["scores"]), two_mode_gain(o["scores"])
        auroc_on, auroc_off = roc_auc_score(r["labels"], r["scores"]), roc_auc_score(o["labels"], o["scores"])
        choice = "off" if gain_off > gain_on else "on"
        picked.setdefault(r["category"], []).append(auroc_off if choice == "off" else auroc_on)
        print(
            f"{r['category']} seed {r['seed']}: gain on {gain_on:.1f} / off {gain_off:.1f}; "
            f"AUROC on {auroc_on:.3f} / off {auroc_off:.3f} -> {choice}"
        )
    means = {c: round(float(np.mean(v)), 3) for c, v in picked.items()}
    print("chosen per product:", means, "mean", round(float(np.mean(list(means.values()))), 3))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
