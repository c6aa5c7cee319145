"""`main.py inspect --product NAME --data-dir D IMAGE`: the saved model of a stored product is reused (no rebuild);
without --product the core command runs unchanged; an unknown product is named with the known ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from line.catalog import product_request
from line.product_models import ProductModels
from tests.station_fakes import bad_part, good_part

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def _main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_inspect_reuses_the_saved_model_of_a_stored_product(tmp_path, database, product):
    from core.inspector import Inspector

    data_dir = tmp_path / "data"
    models = ProductModels(Inspector("efficientnet-lite0", device="cpu"))
    models.build(product_request(database, data_dir, product.id), lambda f, m: None, lambda: False)  # saves it
    assert (data_dir / "models" / f"product-{product.id}" / "product.json").is_file()
    part = tmp_path / "part.png"
    cv2.imwrite(str(part), cv2.cvtColor(bad_part(7), cv2.COLOR_RGB2BGR))
    done = _main("inspect", "--product", "widget", "--data-dir", str(data_dir), str(part), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["saved_model"] is True and result["product"] == "widget" and result["verdict"] in ("PASS", "FAIL")

    unknown = _main("inspect", "--product", "gadget", "--data-dir", str(data_dir), str(part))
    assert unknown.returncode == 1 and "gadget" in unknown.stderr and "widget" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), cv2.cvtColor(good_part(1), cv2.COLOR_RGB2BGR))
    both = _main("inspect", "--product", "widget", "--ref", str(good), str(part))
    assert both.returncode == 2 and "either --product or --ref" in both.stderr
    core = _main("inspect", str(part))  # the core command, unchanged
    assert core.returncode != 0 and "no reference images" in core.stderr
