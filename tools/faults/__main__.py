"""``python -m tools.faults run --scenario all|kill|disk|db|camera|frames [--trials N] --out out/faults`` and
``python -m tools.faults soak --minutes 25 --out out/soak``."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "soak"):
        print(__doc__)
        return 2
    if argv[0] == "soak":
        from tools.faults.soak import main as soak

        return soak(argv[1:])
    from tools.faults.scenarios import main as run

    return run(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
