"""A new reference is measured before it takes effect: how many recent failures it would let pass, and where."""

import numpy as np

from core.reference_preview import RecentFailure, preview_reference
from core.result import FAIL
from tests.core.synth import make_part, plant_spot


def test_a_defective_reference_is_caught_before_it_lets_failures_pass(inspector):
    rng = np.random.default_rng(21)
    refs = [make_part(rng)]
    product = inspector.build_product(refs, name="disk", seed=0)
    failures = []
    for i, (x, y) in enumerate(((60, 60), (160, 70), (70, 160), (150, 150))):
        frame, _ = plant_spot(make_part(rng), x, y)
        result = inspector.inspect(frame, product)
        assert result.verdict == FAIL
        failures.append(RecentFailure(frame, tuple(r.location for r in result.regions), f"#{i + 1}"))
    spotted, _ = plant_spot(make_part(rng), 112, 60)  # "a false alarm": in truth the same defect
    bad = preview_reference(inspector, refs, spotted, failures, product)
    assert bad.failures == 4 and bad.would_pass >= 2
    assert sum(bad.would_pass_by_location.values()) >= bad.would_pass
    assert "would now PASS" in bad.summary() and bad.product is not None
    good = preview_reference(inspector, refs, make_part(rng), failures, product)
    assert good.would_pass == 0 and "would still fail" in good.summary()
    assert good.threshold_before == product.calibration.effective_threshold
