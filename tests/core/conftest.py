import numpy as np
import pytest

from core.inspector import Inspector


@pytest.fixture(scope="session")
def inspector() -> Inspector:
    return Inspector("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="session")
def part_product(inspector):
    from tests.core.synth import make_part

    rng = np.random.default_rng(7)
    refs = [make_part(rng) for _ in range(2)]
    return inspector.build_product(refs, name="disk", seed=0)
