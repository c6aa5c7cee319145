"""The line's inference thread (line/inference.py), which the window uses too: one thread, the model loaded once,
products built with progress, a newer build cancels the running one, every failure comes back as a message."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.imageio import check_array
from core.reference_preview import PreviewRequest
from line.capture.camera_link import CameraError
from line.capture.mailbox import Frame
from line.events import BuildFailure, ErrorCode, Fault
from line.inference import InferenceEngine
from line.outcome import NO_REFERENCES_MESSAGE, ProductRequest, ReferenceSource
from line.ports import PartJob
from tests.station_fakes import Answers, FakeInspector, bad_part, good_part, wait_until


def _request(refs, pid: int = 1, **kw) -> ProductRequest:
    return ProductRequest(product_id=pid, name=f"part-{pid}", references=tuple(refs), **kw)


def _job(image: np.ndarray, seq: int, pid: int = 1) -> PartJob:
    frame = Frame(image=image, index=seq, source="test")
    return PartJob(seq, f"P{seq}", pid, acquire=lambda: frame)


class Rig:
    def __init__(self, inspector) -> None:
        self.inspector = inspector
        self.answers = Answers()
        self.engine = InferenceEngine(lambda: inspector, self.answers)
        self.engine.start()
        self.answers.wait("on_model_ready")

    def build(self, refs, pid: int = 1, **kw) -> None:
        self.engine.build_product(_request(refs, pid, **kw))


@pytest.fixture
def rig():
    rigs: list[Rig] = []

    def make(**kw) -> Rig:
        r = Rig(FakeInspector(**kw))
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        assert r.engine.stop()
        assert not r.engine.is_running


def test_round_trip_builds_then_inspects_in_the_inference_thread(rig):
    r = rig()
    r.build([ReferenceSource("good.png", image=good_part(0))])
    assert r.answers.wait("on_product_ready")[0] == 1
    fractions = [f for _, f, _ in r.answers.of("on_product_progress")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4

    r.engine.inspect(_job(bad_part(1), 1))
    job, outcome = r.answers.wait("on_inspected")
    assert job.part_id == "P1" and outcome.part_id == "P1"
    assert outcome.result.verdict == "FAIL" and outcome.result.regions[0].location == "top left"
    assert outcome.heatmap_rgba.shape == (96, 96, 4) and outcome.heatmap_rgba.dtype == np.uint8
    assert outcome.product_name == "part-1" and outcome.latency_ms >= 0
    r.engine.inspect(_job(good_part(2), 2))
    assert r.answers.wait("on_inspected", 2)[1].result.verdict == "PASS"
    # everything ran in the one inference thread, none of it in the caller's
    assert threading.get_ident() not in r.inspector.thread_ids and len(r.inspector.thread_ids) == 1
    assert r.answers.threads == r.inspector.thread_ids


def test_a_part_without_a_frame_fails_with_the_cameras_code(rig):
    r = rig()
    r.build([ReferenceSource("good", image=good_part(0))])
    r.answers.wait("on_product_ready")

    def no_frame() -> Frame:
        raise CameraError(Fault(ErrorCode.CAMERA_TIMEOUT, "Camera 7 delivered no frame within 1 s"))

    r.engine.inspect(PartJob(1, "A", 1, acquire=no_frame))
    job, fault = r.answers.wait("on_part_failed")
    assert job.part_id == "A" and fault.code is ErrorCode.CAMERA_TIMEOUT and "Camera 7" in fault.text
    assert not r.inspector.inspected


def test_corrupt_reference_file_is_named(rig, tmp_path: Path):
    r = rig()
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), good_part(0))
    broken = tmp_path / "stored-file.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 broken")
    r.build([ReferenceSource("good.png", path=good), ReferenceSource("shelf_7.png", path=broken)])
    pid, message, kind = r.answers.wait("on_product_failed")
    assert pid == 1 and "shelf_7.png" in message and "Remove or replace it" in message
    assert kind is BuildFailure.FAILED


def test_product_without_references_says_what_to_do(rig):
    r = rig()
    r.build([ReferenceSource("good", image=good_part(0))])
    r.answers.wait("on_product_ready")
    r.build([])
    _pid, message, kind = r.answers.wait("on_product_failed")
    assert message.startswith(NO_REFERENCES_MESSAGE) and kind is BuildFailure.NO_REFERENCES
    # the old model of the product is gone: nothing is inspected against stale references
    r.engine.inspect(_job(good_part(1), 1))
    fault = r.answers.wait("on_part_failed")[1]
    assert fault.code is ErrorCode.INSPECTION_FAILED and "not ready" in fault.text


def test_a_newer_build_cancels_the_running_one(rig):
    r = rig(build_delay_s=1.0)
    r.build([ReferenceSource("a", image=good_part(0))], pid=1)
    time.sleep(0.3)
    r.build([ReferenceSource("b", image=good_part(1))], pid=2)
    assert r.answers.wait("on_product_ready")[0] == 2
    assert r.answers.of("on_product_ready") == [r.answers.of("on_product_ready")[0]]
    assert not r.answers.of("on_product_failed")  # a cancelled build is no failure to report


def test_model_load_failure_is_reported():
    def broken():
        raise RuntimeError("weights file truncated")

    answers = Answers()
    engine = InferenceEngine(broken, answers)
    engine.start()
    (message,) = answers.wait("on_model_failed")
    assert "could not be loaded" in message and "weights file truncated" in message
    assert engine.stop()


def test_stop_joins_the_thread_during_a_long_build(rig):
    r = rig(build_delay_s=20.0)
    r.build([ReferenceSource("a", image=good_part(0))])
    time.sleep(0.2)
    t0 = time.monotonic()
    assert r.engine.stop(timeout_s=5.0)
    assert time.monotonic() - t0 < 1.0 and not r.engine.is_running


def test_a_preview_for_a_product_without_a_model_says_why():
    answers = Answers()
    engine = InferenceEngine(FakeInspector, answers)
    engine.start()
    replies: list[tuple] = []
    request = PreviewRequest(7, 3, (good_part(0),), good_part(1), ())
    engine.preview_reference(request, lambda *reply: replies.append(reply))
    try:
        wait_until(lambda: bool(replies), 5.0, "the preview's reply")
        [(req, preview, message)] = replies
        assert req is request and preview is None and "not ready" in message
    finally:
        assert engine.stop()


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


def test_line_pool_lives_in_the_thread_is_saved_at_stop_and_forgets_confirmed_defects(tmp_path):
    from core.line_pool import LinePool
    from core.memory import image_hash
    from line.product_models import POOL_FILE

    inspector = PoolingInspector()
    answers = Answers()
    engine = InferenceEngine(lambda: inspector, answers)
    engine.start()
    answers.wait("on_model_ready")
    engine.build_product(_request([ReferenceSource("good", image=good_part(0))], model_dir=tmp_path))
    answers.wait("on_product_ready")
    frames = [good_part(i) for i in range(1, 5)]
    for i, f in enumerate(frames, 1):
        engine.inspect(_job(f, i))
        answers.wait("on_inspected", i)
    assert len(inspector.pools_seen) == 1  # one pool per product, kept across parts
    assert engine.models.pools[1].learned == 4  # the stream's scores (the default pool keeps no parts)
    key = image_hash(check_array(frames[0]))
    engine.forget_part(1, key)
    wait_until(lambda: key in engine.models.pools[1].excluded, 5.0, "the confirmed defect to leave the pool")
    assert engine.stop()
    saved = LinePool.load(tmp_path / POOL_FILE)
    assert saved.learned == 4 and key in saved.excluded


class SlowAdaptingInspector(FakeInspector):
    """Fits a product's own map in 20 slices of 50 ms, calling ``pause`` between them as the real fit does."""

    def __init__(self) -> None:
        super().__init__()
        self.adapt_started = threading.Event()
        self.adapt_calls = 0
        self.adapt_done = threading.Event()

    def adapt_product(self, product, references, parts, keys=(), seed=0, pause=None, progress=None):
        from dataclasses import replace

        from core.errors import Cancelled

        self.adapt_calls += 1
        self.adapt_started.set()
        for i in range(20):
            time.sleep(0.05)
            if pause is not None and pause():
                raise Cancelled("fitting the product's own map was stopped")
            if progress is not None:
                progress((i + 1) / 20, "fitting")
        self.adapt_done.set()
        return replace(product, adapted=len(parts))


def _fill_taken(engine: InferenceEngine, pid: int = 1) -> None:
    from core.line_pool import TakenPart
    from core.own_map import ADAPT_AFTER

    pool = engine.models.pools[pid]
    pool.taken = [TakenPart(f"k{i}", good_part(i)) for i in range(ADAPT_AFTER)]


def _adapting_rig(model_dir: Path) -> tuple[SlowAdaptingInspector, Answers, InferenceEngine]:
    """The inference thread with a built product whose pool has just taken enough parts for its own map."""
    inspector = SlowAdaptingInspector()
    answers = Answers()
    engine = InferenceEngine(lambda: inspector, answers)
    engine.start()
    answers.wait("on_model_ready")
    engine.build_product(_request([ReferenceSource("good", image=good_part(0))], model_dir=model_dir))
    answers.wait("on_product_ready")
    _fill_taken(engine)
    return inspector, answers, engine


def test_the_own_map_is_fitted_between_parts_and_a_part_never_waits_for_the_whole_fit(tmp_path):
    from core.line_pool import LinePool
    from core.own_map import ADAPT_AFTER
    from line.product_models import POOL_FILE

    inspector, answers, engine = _adapting_rig(tmp_path)
    engine.inspect(_job(good_part(1), 1))
    answers.wait("on_inspected")
    assert inspector.adapt_started.wait(5.0), "the fit starts once the queue is quiet"
    engine.inspect(_job(bad_part(2), 2))  # arrives during the 1-s fit ...
    _, outcome = answers.wait("on_inspected", 2)
    assert not inspector.adapt_done.is_set()  # ... and is answered before the fit ends
    assert outcome.result.verdict == "FAIL"
    pid, adapted = answers.wait("on_product_adapted")
    assert pid == 1 and adapted.adapted_parts == ADAPT_AFTER and inspector.adapt_calls == 1
    pool = engine.models.pools[1]
    assert pool.adapted == ADAPT_AFTER and not pool.taken and pool.adapting is None
    assert engine.models.products[1][1].adapted_parts == ADAPT_AFTER
    assert engine.stop()
    assert LinePool.load(tmp_path / POOL_FILE).adapted == ADAPT_AFTER  # not fitted again after a restart


def test_a_build_stops_the_fit_and_stop_does_not_wait_for_it(tmp_path):
    inspector, answers, engine = _adapting_rig(tmp_path)
    refs = [ReferenceSource("good", image=good_part(0))]
    engine.inspect(_job(good_part(1), 1))
    assert inspector.adapt_started.wait(5.0)
    engine.build_product(_request(refs, model_dir=tmp_path))  # the operator rebuilds the product meanwhile
    answers.wait("on_product_ready", 2)
    assert not inspector.adapt_done.is_set() and answers.of("on_product_adapted") == []
    _fill_taken(engine)  # the rebuilt product's pool takes its parts again; the fit starts again when quiet
    engine.inspect(_job(good_part(2), 2))
    wait_until(lambda: inspector.adapt_calls == 2, 5.0, "the fit to start again")
    t0 = time.monotonic()
    assert engine.stop()
    assert time.monotonic() - t0 < 2.0 and not inspector.adapt_done.is_set()
