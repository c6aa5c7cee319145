"""The product's own map on the station (line/product_models.py): fitted on the parts the pool took, saved with the
model, used again after a restart and by `main.py inspect --product`, and fitted again when a reviewer confirms
that one of its parts was defective."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from core.line_pool import TakenPart
from core.memory import image_hash
from core.preprocess import working_image
from line.catalog import product_request
from line.product_models import ProductModels
from tests.station_fakes import bad_part, good_part

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)
PARTS = 4


@pytest.fixture(scope="module")
def inspector():
    from core.inspector import Inspector

    return Inspector("efficientnet-lite0", device="cpu")


def test_the_adapted_product_survives_a_restart_and_inspect_reports_it(tmp_path, database, product, inspector):
    data_dir = tmp_path / "data"
    request = product_request(database, data_dir, product.id)
    models = ProductModels(inspector)
    built = models.build(request, lambda f, m: None, lambda: False)
    assert built.adapted_parts == 0
    pool = models.pools[product.id]
    goods = [good_part(10 + i) for i in range(PARTS)]
    pool.taken = [TakenPart(image_hash(g), working_image(g, built.settings)) for g in goods]
    adapted = models.adapt(product.id, lambda: False)
    assert adapted is not None and adapted.adapted_parts == PARTS and pool.adapted == PARTS and not pool.taken
    assert adapted.encoder_id == inspector.encoder_id_for(adapted.own_map) != inspector.encoder_id
    models.save_pools()

    restarted = ProductModels(inspector)  # a restart: the saved model (with its map) is loaded, not rebuilt
    again = restarted.build(product_request(database, data_dir, product.id), lambda f, m: None, lambda: False)
    assert again.adapted_parts == PARTS and again.own_map.digest == adapted.own_map.digest
    assert restarted.pools[product.id].adapted == PARTS and not restarted.pools[product.id].collecting
    part = tmp_path / "part.png"
    cv2.imwrite(str(part), cv2.cvtColor(bad_part(7), cv2.COLOR_RGB2BGR))
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "inspect", "--product", "widget", "--data-dir", str(data_dir),
         str(part), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["saved_model"] is True and result["adapted_parts"] == PARTS

    # a reviewer confirms that one of the map's parts was defective: the pool takes parts for a new map
    key = adapted.own_map.part_keys[1]
    assert restarted.forget_part(product.id, key)
    pool = restarted.pools[product.id]
    assert pool.adapted == 0 and pool.collecting and key in pool.excluded
    assert restarted.products[product.id][1].adapted_parts == PARTS  # the present map serves until then
    restarted.save_pools()
    third = ProductModels(inspector)  # ... and still after another restart
    third.build(product_request(database, data_dir, product.id), lambda f, m: None, lambda: False)
    assert third.pools[product.id].collecting and third.products[product.id][1].adapted_parts == PARTS
