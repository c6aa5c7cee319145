"""The inference worker round trip: one thread, model loaded once, products built with progress, newest frame
wins, errors come back as messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.imageio import check_array
from desktop.workers.inference_worker import NO_REFERENCES_MESSAGE, InferenceService, ProductRequest, ReferenceSource
from line.capture.mailbox import Frame
from tests.desktop.qt_catch import Catch
from tests.station_fakes import FakeInspector, bad_part, good_part


def _frame(image: np.ndarray, index: int) -> Frame:
    return Frame(image=image, index=index, source="test")


def _request(refs, pid: int = 1, **kw) -> ProductRequest:
    return ProductRequest(product_id=pid, name=f"part-{pid}", references=tuple(refs), **kw)


class Rig:
    def __init__(self, qtbot, inspector) -> None:
        self.qtbot = qtbot
        self.inspector = inspector
        self.svc = InferenceService(lambda: inspector)
        self.ready = Catch(self.svc.product_ready)
        self.failed = Catch(self.svc.product_failed)
        self.results = Catch(self.svc.result_ready)
        self.not_inspected = Catch(self.svc.inspection_failed)
        self.progress = Catch(self.svc.product_progress)
        model = Catch(self.svc.model_ready)
        self.svc.start()
        model.wait(qtbot)

    def build(self, refs, pid: int = 1, **kw) -> None:
        self.svc.build_product(_request(refs, pid, **kw))


@pytest.fixture
def rig(qtbot):
    rigs: list[Rig] = []

    def make(**kw) -> Rig:
        r = Rig(qtbot, FakeInspector(**kw))
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        assert r.svc.stop()
        assert not r.svc.thread.isRunning()


def test_round_trip_builds_then_inspects_in_the_worker_thread(qtbot, rig):
    r = rig()
    r.build([ReferenceSource("good.png", image=good_part(0))])
    assert r.ready.wait(qtbot)[0] == 1
    fractions = [f for _, f, _ in r.progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4

    r.svc.submit(_frame(bad_part(1), 1), 1)
    outcome = r.results.wait(qtbot)[0]
    assert outcome.result.verdict == "FAIL" and outcome.result.regions[0].location == "top left"
    assert outcome.heatmap_rgba.shape == (96, 96, 4) and outcome.heatmap_rgba.dtype == np.uint8
    assert outcome.product_name == "part-1" and outcome.latency_ms >= 0
    r.svc.submit(_frame(good_part(2), 2), 1)
    assert r.results.wait(qtbot, 2)[0].result.verdict == "PASS"
    # everything ran in the one worker thread, none of it in the GUI thread
    assert threading.get_ident() not in r.inspector.thread_ids and len(r.inspector.thread_ids) == 1


def test_only_the_newest_pending_frame_is_inspected(qtbot, rig):
    r = rig(inspect_delay_s=0.3)
    r.build([ReferenceSource("good", image=good_part(0))])
    r.ready.wait(qtbot)
    r.svc.submit(_frame(good_part(1), 1), 1)
    time.sleep(0.1)  # frame 1 is being inspected now
    for i in range(2, 8):
        r.svc.submit(_frame(good_part(i), i), 1)
    r.results.wait(qtbot, 2)
    qtbot.wait(400)
    assert [c[0].frame.index for c in r.results.calls] == [1, 7]  # 2..6 were stale and dropped
    assert r.svc.dropped == 5


def test_corrupt_reference_file_is_named(qtbot, rig, tmp_path: Path):
    r = rig()
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), good_part(0))
    broken = tmp_path / "stored-file.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 broken")
    r.build([ReferenceSource("good.png", path=good), ReferenceSource("shelf_7.png", path=broken)])
    pid, message = r.failed.wait(qtbot)
    assert pid == 1 and "shelf_7.png" in message and "Remove or replace it" in message


def test_product_without_references_says_what_to_do(qtbot, rig):
    r = rig()
    r.build([ReferenceSource("good", image=good_part(0))])
    r.ready.wait(qtbot)
    r.build([])
    assert r.failed.wait(qtbot)[1].startswith(NO_REFERENCES_MESSAGE)
    # the old model of the product is gone: nothing is inspected against stale references
    r.svc.submit(_frame(good_part(1), 1), 1)
    assert "not ready" in r.not_inspected.wait(qtbot)[1]


def test_a_newer_build_cancels_the_running_one(qtbot, rig):
    r = rig(build_delay_s=1.0)
    r.build([ReferenceSource("a", image=good_part(0))], pid=1)
    time.sleep(0.3)
    r.build([ReferenceSource("b", image=good_part(1))], pid=2)
    assert r.ready.wait(qtbot)[0] == 2
    assert r.failed.calls == [(1, "cancelled")]


def test_model_load_failure_is_reported(qtbot):
    def broken():
        raise RuntimeError("weights file truncated")

    svc = InferenceService(broken)
    failed = Catch(svc.model_failed)
    svc.start()
    message = failed.wait(qtbot)[0]
    assert "could not be loaded" in message and "weights file truncated" in message
    assert svc.stop()


def test_stop_joins_the_thread_during_a_long_build(qtbot, rig):
    r = rig(build_delay_s=20.0)
    r.build([ReferenceSource("a", image=good_part(0))])
    time.sleep(0.2)
    t0 = time.monotonic()
    assert r.svc.stop(timeout_s=5.0)
    assert time.monotonic() - t0 < 1.0 and not r.svc.thread.isRunning()


class PoolingInspector(FakeInspector):
    """Offers every passing part to the line pool as the real inspector does (a small random feature grid)."""

    def inspect(self, frame, product, pool=None):
        import torch

        from core.memory import image_hash

        result = super().inspect(frame, product)
        if pool is not None:
            self.pools_seen = getattr(self, "pools_seen", set()) | {id(pool)}
            grid = torch.nn.functional.normalize(torch.randn(6, 6, 8), dim=-1)
            pool.observe(image_hash(check_array(frame)), grid, result.score, 40.0, result.verdict == "FAIL")
        return result


def test_line_pool_lives_in_the_worker_is_saved_at_stop_and_forgets_confirmed_defects(qtbot, tmp_path):
    from core.imageio import check_array as _check
    from core.line_pool import LinePool
    from core.memory import image_hash
    from desktop.workers.inference_worker import POOL_FILE

    inspector = PoolingInspector()
    svc = InferenceService(lambda: inspector)
    ready, results = Catch(svc.product_ready), Catch(svc.result_ready)
    model = Catch(svc.model_ready)
    svc.start()
    model.wait(qtbot)
    svc.build_product(_request([ReferenceSource("good", image=good_part(0))], model_dir=tmp_path))
    ready.wait(qtbot)
    frames = [good_part(i) for i in range(1, 5)]
    for i, f in enumerate(frames, 1):
        svc.submit(_frame(f, i), 1)
        results.wait(qtbot, i)
    assert len(inspector.pools_seen) == 1  # one pool per product, kept across frames
    assert svc.worker.pools[1].learned == 4  # the stream's scores (the default pool keeps no parts)
    svc.forget_part(1, image_hash(_check(frames[0])))
    qtbot.waitUntil(lambda: image_hash(_check(frames[0])) in svc.worker.pools[1].excluded, timeout=5000)
    assert svc.stop()
    saved = LinePool.load(tmp_path / POOL_FILE)
    assert saved.learned == 4 and image_hash(_check(frames[0])) in saved.excluded
