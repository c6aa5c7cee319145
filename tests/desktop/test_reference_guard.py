"""A false alarm is measured before it becomes a normal reference: the reviewer sees what it would let pass."""

from __future__ import annotations

import numpy as np

from core.reference_preview import RecentFailure
from core.threshold_guard import ThresholdMove
from db.threshold_moves import SecondConfirmation
from desktop.dialogs.reference_guard import ReferenceApproval, ReferenceChoice, ReferenceGuard
from desktop.workers.inference_worker import InferenceService, ProductRequest, ReferenceSource
from line.inference import InferenceEngine
from tests.station_fakes import Answers, FakeInspector, bad_part, good_part


def _setup(qtbot, database):
    inspector = FakeInspector()
    product = database.products.create("widget")
    database.references.add(product.id, good_part(0))
    answers = Answers()
    engine = InferenceEngine(lambda: inspector, answers)
    svc = InferenceService(engine=engine)
    engine.start()
    answers.wait("on_model_ready")
    engine.build_product(ProductRequest(product.id, "widget", (ReferenceSource("good", image=good_part(0)),)))
    built = answers.wait("on_product_ready")[1]
    failed = []
    for i in range(3):
        frame = bad_part(10 + i)
        result = inspector.inspect(frame, built)
        assert result.verdict == "FAIL"
        failed.append(database.inspections.record(product_id=product.id, result=result, image=frame))
    return svc, product, failed


def test_the_reviewer_sees_the_measured_effect_before_anything_is_saved(qtbot, database):
    """(What a defective reference does to the failures is core's, tests/core/test_reference_preview.py; here the
    flow: records read off the GUI thread, the worker measures, the reviewer decides, nothing saved before.)"""
    svc, product, failed = _setup(qtbot, database)
    asked: list[str] = []
    guard = ReferenceGuard(database, svc, lambda text: asked.append(text) or ReferenceChoice.FALSE_ALARM_ONLY)
    chosen: list[bool] = []
    guard.check(failed[0].id, lambda add, _approval: chosen.append(add))
    qtbot.waitUntil(lambda: bool(chosen), timeout=10000)
    assert chosen == [False]  # the reviewer chose to keep the references
    assert "threshold moves from 40.000" in asked[0] and "All 2 recent failures would still fail" in asked[0]
    assert len(database.references.list(product.id)) == 1  # nothing was added behind the reviewer's back
    assert svc.engine.stop()


def test_cancel_saves_nothing_and_a_failed_measurement_still_asks(qtbot, database):
    svc, _product, failed = _setup(qtbot, database)
    asked: list[str] = []
    guard = ReferenceGuard(database, svc, lambda text: asked.append(text) or ReferenceChoice.CANCEL)
    chosen: list[bool] = []
    guard.check(failed[1].id, lambda add, _approval: chosen.append(add))
    qtbot.waitUntil(lambda: bool(asked), timeout=10000)
    qtbot.wait(100)
    assert chosen == []
    guard.check(10_000, lambda add, _approval: chosen.append(add))  # no such inspection: the records cannot be read
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=10000)
    assert "could not be measured" in asked[1] and chosen == []
    assert svc.engine.stop()


def test_recent_failure_carries_its_locations():
    f = RecentFailure(np.zeros((4, 4, 3), np.uint8), ("top left",), "#1")
    assert f.locations == ("top left",) and f.label == "#1"


def _move(would_pass: int) -> ThresholdMove:
    return ThresholdMove(0.5, 0.9, 16, would_pass, {"center": would_pass})


def test_a_reference_that_lets_too_many_failures_pass_asks_for_a_second_person(qtbot, database):
    svc, _product, _failed = _setup(qtbot, database)
    asked_second: list[tuple[int, float]] = []
    confirmation = SecondConfirmation("bob", "bob-password", "checked by hand")
    answers: list[SecondConfirmation | None] = [None, confirmation]

    def confirm(move: ThresholdMove, limit: float) -> SecondConfirmation | None:
        asked_second.append((move.would_pass, limit))
        return answers.pop(0)

    guard = ReferenceGuard(database, svc, lambda text: ReferenceChoice.ADD, confirm=confirm, limit_share=lambda: 0.1)
    chosen: list[tuple[bool, ReferenceApproval | None]] = []
    guard._waiting[1] = lambda add, approval: chosen.append((add, approval))
    guard._decide(1, "8 of 16 would pass", _move(8))
    assert asked_second == [(8, 0.1)] and chosen == []  # the second person declined: nothing goes on
    guard._waiting[2] = lambda add, approval: chosen.append((add, approval))
    guard._decide(2, "8 of 16 would pass", _move(8))
    assert chosen == [(True, ReferenceApproval(_move(8), confirmation))]
    guard._waiting[3] = lambda add, approval: chosen.append((add, approval))
    guard._decide(3, "1 of 16 would pass", _move(1))  # within the share: nobody else is asked
    assert len(asked_second) == 2 and chosen[-1] == (True, ReferenceApproval(_move(1), None))
    assert svc.engine.stop()
