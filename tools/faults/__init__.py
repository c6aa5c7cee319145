"""Fault-injection and soak harness (issue 15): a benchmark command, not part of ``make test``.

    .venv/bin/python -m tools.faults run --scenario all --out out/faults
    .venv/bin/python -m tools.faults soak --minutes 25 --out out/soak

Each scenario drives the real station (the window of desktop/app.py in offscreen Qt, Auto switched on; see
tools/faults/station_proc.py) or the real ``main.py inspect`` command, injects its fault, and checks the
invariants of tools/faults/invariants.py afterwards. Results and the figures are in docs/reliability.md.
"""
