"""Inspection library of the station: few-shot anomaly maps, self-calibrated verdicts, regions, simulation.

No Qt and no SQLAlchemy here (tests/test_architecture.py enforces it). The stable API is described in
docs/core-api.md.
"""

__version__ = "0.1.0"
