"""The inference worker round trip: one thread, model loaded once, products built with progress, newest frame
wins, errors come back as messages."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop.capture.mailbox import Frame
from desktop.inference_worker import NO_REFERENCES_MESSAGE, InferenceService, ProductRequest, ReferenceSource
from station_fakes import FakeInspector, bad_part, good_part


def _frame(image: np.ndarray, index: int) -> Frame:
    return Frame(image=image, index=index, source="test")


def _request(refs, pid: int = 1, **kw) -> ProductRequest:
    return ProductRequest(product_id=pid, name=f"part-{pid}", references=tuple(refs), **kw)


@pytest.fixture
def service(qtbot):
    created: list[FakeInspector] = []

    def make(**kw):
        inspector = FakeInspector(**kw)
        created.append(inspector)
        svc = InferenceService(lambda: inspector)
        with qtbot.waitSignal(svc.model_ready, timeout=5000):
            svc.start()
        return svc, inspector

    services = []

    def factory(**kw):
        svc, insp = make(**kw)
        services.append(svc)
        return svc, insp

    yield factory
    for svc in services:
        assert svc.stop()
        assert not svc.thread.isRunning()


def test_round_trip_builds_then_inspects_in_the_worker_thread(qtbot, service):
    svc, inspector = service()
    progress: list[tuple[int, float, str]] = []
    svc.product_progress.connect(lambda pid, f, m: progress.append((pid, f, m)))
    with qtbot.waitSignal(svc.product_ready, timeout=5000) as ready:
        svc.build_product(_request([ReferenceSource("good.png", image=good_part(0))]))
    assert ready.args[0] == 1
    fractions = [f for _, f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4

    with qtbot.waitSignal(svc.result_ready, timeout=5000) as got:
        svc.submit(_frame(bad_part(1), 1), 1)
    outcome = got.args[0]
    assert outcome.result.verdict == "FAIL" and outcome.result.regions[0].location == "top left"
    assert outcome.heatmap_rgba.shape == (96, 96, 4) and outcome.heatmap_rgba.dtype == np.uint8
    assert outcome.product_name == "part-1" and outcome.latency_ms >= 0
    with qtbot.waitSignal(svc.result_ready, timeout=5000) as got:
        svc.submit(_frame(good_part(2), 2), 1)
    assert got.args[0].result.verdict == "PASS"
    assert threading.get_ident() not in inspector.thread_ids and len(inspector.thread_ids) == 1


def test_only_the_newest_pending_frame_is_inspected(qtbot, service):
    svc, inspector = service(inspect_delay_s=0.3)
    with qtbot.waitSignal(svc.product_ready, timeout=5000):
        svc.build_product(_request([ReferenceSource("good", image=good_part(0))]))
    results = []
    svc.result_ready.connect(lambda o: results.append(o.frame.index))
    svc.submit(_frame(good_part(1), 1), 1)
    time.sleep(0.1)  # frame 1 is being inspected now
    for i in range(2, 8):
        svc.submit(_frame(good_part(i), i), 1)
    qtbot.waitUntil(lambda: bool(results) and results[-1] == 7, timeout=5000)
    qtbot.wait(400)
    assert results == [1, 7]  # 2..6 were stale and dropped
    assert svc.dropped == 5


def test_corrupt_reference_file_is_named(qtbot, service, tmp_path: Path):
    svc, _ = service()
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), good_part(0))
    broken = tmp_path / "stored-file.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 broken")
    with qtbot.waitSignal(svc.product_failed, timeout=5000) as failed:
        svc.build_product(_request([ReferenceSource("good.png", path=good), ReferenceSource("shelf_7.png", path=broken)]))
    pid, message = failed.args
    assert pid == 1 and "shelf_7.png" in message and "Remove or replace it" in message


def test_product_without_references_says_what_to_do(qtbot, service):
    svc, _ = service()
    with qtbot.waitSignal(svc.product_ready, timeout=5000):
        svc.build_product(_request([ReferenceSource("good", image=good_part(0))]))
    with qtbot.waitSignal(svc.product_failed, timeout=5000) as failed:
        svc.build_product(_request([]))
    assert failed.args[1].startswith(NO_REFERENCES_MESSAGE)
    # the old model of the product is gone: nothing is inspected against stale references
    with qtbot.waitSignal(svc.inspection_failed, timeout=5000) as not_ready:
        svc.submit(_frame(good_part(1), 1), 1)
    assert "not ready" in not_ready.args[1]


def test_a_newer_build_cancels_the_running_one(qtbot, service):
    svc, inspector = service(build_delay_s=1.0)
    outcomes = []
    svc.product_failed.connect(lambda pid, msg: outcomes.append((pid, msg)))
    svc.product_ready.connect(lambda pid, _p: outcomes.append((pid, "ready")))
    svc.build_product(_request([ReferenceSource("a", image=good_part(0))], pid=1))
    time.sleep(0.3)
    svc.build_product(_request([ReferenceSource("b", image=good_part(1))], pid=2))
    qtbot.waitUntil(lambda: (2, "ready") in outcomes, timeout=5000)
    assert outcomes == [(1, "cancelled"), (2, "ready")]


def test_model_load_failure_is_reported(qtbot):
    def broken():
        raise RuntimeError("weights file truncated")

    svc = InferenceService(broken)
    with qtbot.waitSignal(svc.model_failed, timeout=5000) as failed:
        svc.start()
    assert "could not be loaded" in failed.args[0] and "weights file truncated" in failed.args[0]
    assert svc.stop()


def test_stop_joins_the_thread_during_a_long_build(qtbot, service):
    svc, _ = service(build_delay_s=20.0)
    svc.build_product(_request([ReferenceSource("a", image=good_part(0))]))
    time.sleep(0.2)
    t0 = time.monotonic()
    assert svc.stop(timeout_s=5.0)
    assert time.monotonic() - t0 < 1.0 and not svc.thread.isRunning()
