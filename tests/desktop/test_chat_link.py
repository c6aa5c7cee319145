"""The chat panel wired to the chat worker: questions about the part on screen, streamed answers, the
conversation stored with its inspection. The language model is left out (the core session then answers with
the measured facts), so these tests need no model download."""

from __future__ import annotations

import threading

from core.chat.session import ChatSession
from core.errors import ModelLoadError
from desktop.controllers.chat_link import ChatLink
from desktop.controllers.demo_setup import ensure_demo_product
from desktop.workers.chat_worker import ChatService
from tests.desktop.qt_catch import Catch


def _facts_only(history):
    return ChatSession(None, history=history), "facts only (test)"


def _attach(rig, database, factory=_facts_only) -> ChatLink:
    service = ChatService(history=database.history_queries, session_factory=factory)
    link = ChatLink(rig.window.chat, service, database, rig.window.status, parent=rig.window)
    rig.station.attach_chat(link)
    return link


def test_question_about_the_inspected_part_is_answered_and_stored(qtbot, make_rig, database):
    before = {t.ident for t in threading.enumerate()}
    product = ensure_demo_product(database)
    rig = make_rig()
    link = _attach(rig, database)
    finished = Catch(link.service.answerFinished)
    tokens = Catch(link.service.tokenReceived)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    link.start()
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        rig.station.inspect_now()
    inspection_id = recorded.args[0]
    chat = rig.window.chat
    chat.input.setText("Is there a defect?")
    chat.send_button.click()
    answer = finished.wait(qtbot)[0]
    assert answer and tokens.calls and "".join(t[0] for t in tokens.calls) == answer
    assert chat.messages[-1].role == "assistant" and chat.messages[-1].text == answer
    assert not chat.is_streaming() and chat.send_button.isEnabled()
    qtbot.waitUntil(lambda: len(database.chat.for_inspection(inspection_id)) == 2, timeout=5000)
    stored = database.chat.for_inspection(inspection_id)
    assert [(m.role, m.text) for m in stored] == [("user", "Is there a defect?"), ("assistant", answer)]
    rig.close()
    assert not link.service.thread.is_running
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before


def test_before_any_inspection_the_chat_says_what_to_do(qtbot, make_rig, database):
    rig = make_rig()
    link = _attach(rig, database)
    finished = Catch(link.service.answerFinished)
    rig.window.chat.input.setText("where is the defect?")
    rig.window.chat.send_button.click()
    assert "inspect a part first" in finished.wait(qtbot)[0]


def test_model_that_cannot_load_is_reported_and_facts_still_answer(qtbot, make_rig, database):
    def broken(history):
        raise ModelLoadError("language model weights are missing; reinstall the llm package")

    product = ensure_demo_product(database)
    rig = make_rig()
    link = _attach(rig, database, factory=broken)
    failed = Catch(link.service.failed)
    finished = Catch(link.service.answerFinished)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    link.start()
    assert "could not be loaded" in failed.wait(qtbot)[0]
    qtbot.waitUntil(
        lambda: bool(rig.window.chat.messages) and rig.window.chat.messages[-1].role == "system", timeout=5000
    )
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    with qtbot.waitSignal(rig.station.outcome_shown, timeout=10000):
        rig.station.inspect_now()
    rig.window.chat.input.setText("how sure is the verdict?")
    rig.window.chat.send_button.click()
    assert finished.wait(qtbot)[0]


def test_stop_button_reaches_the_worker(qtbot, make_rig, database):
    rig = make_rig()
    link = _attach(rig, database)
    rig.window.chat.start_assistant_message()
    rig.window.chat.stop_button.click()
    assert link.service._stop.is_set()


def test_a_question_asked_before_its_inspection_row_exists_is_stored_with_it(qtbot, database):
    """While the database keeps an inspection waiting (locked, Retry), questions about that part wait with it and
    land in its transcript once the row exists; ones whose row never comes are kept with the product at shutdown."""
    from desktop.widgets.chat_panel import ChatPanel
    from desktop.widgets.station_status_bar import StationStatusBar
    from desktop.workers.inference_worker import InspectionOutcome
    from line.capture.mailbox import Frame
    from tests.station_fakes import FakeInspector, bad_part, good_part

    panel, status = ChatPanel(), StationStatusBar()
    qtbot.addWidget(panel)
    qtbot.addWidget(status)
    service = ChatService(history=database.history_queries, session_factory=_facts_only)
    link = ChatLink(panel, service, database, status)
    product = database.products.create("widget")
    inspector = FakeInspector()
    built = inspector.build_product([good_part(0)], name="widget")
    outcomes = []
    for i in range(2):
        frame = Frame(image=bad_part(i), index=i, source="test")
        result = inspector.inspect(frame.image, built)
        outcomes.append(InspectionOutcome(frame, product.id, "widget", result, None, 1.0))
    link.set_part(outcomes[0])
    link._store("user", "Where is the defect?")  # asked while the row is still waiting
    link._store("assistant", "At the top left.")
    link.set_part(outcomes[1])  # the next part came before the row did
    link._store("user", "And this one?")
    qtbot.wait(200)
    assert database.chat.for_product(product.id) == []  # nothing stored without its inspection yet
    row = database.inspections.record(product_id=product.id, result=outcomes[0].result, image=outcomes[0].frame.image)
    link.set_record(outcomes[0], row.id)
    qtbot.waitUntil(lambda: len(database.chat.for_inspection(row.id)) == 2, timeout=5000)
    assert [(m.role, m.text) for m in database.chat.for_inspection(row.id)] == [
        ("user", "Where is the defect?"),
        ("assistant", "At the top left."),
    ]
    link.shutdown()  # the second part's row never came: its question is kept with the product
    texts = [m.text for m in database.chat.for_product(product.id)]
    assert "And this one?" in texts and len(texts) == 3
