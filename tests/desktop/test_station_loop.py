"""The full loop on a real database: simulated camera -> inspection worker -> database row -> history -> review."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from db.records import HistoryFilter
from desktop.controllers.demo_setup import ensure_demo_product


def _recorded_ids(rig, n: int, qtbot, timeout: int = 10000) -> list[int]:
    ids: list[int] = []
    rig.station.inspection_recorded.connect(ids.append)
    qtbot.waitUntil(lambda: len(ids) >= n, timeout=timeout)
    return ids


def _demo_running(qtbot, make_rig, database, *, first_frame: bool = True, **rig_options):
    """The station on the demo camera with the demo product ready (and its first frame on screen)."""
    product = ensure_demo_product(database)
    rig = make_rig(**rig_options)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    if first_frame:
        qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    return rig, product


def test_auto_mode_records_inspections_that_history_shows_and_review_updates(qtbot, make_rig, database):
    rig, product = _demo_running(qtbot, make_rig, database, first_frame=False)
    assert rig.window.controls.selected_product_id() == product.id
    rig.window.controls.auto_button.click()
    assert rig.station.auto
    ids = _recorded_ids(rig, 3, qtbot)
    rig.window.controls.auto_button.click()

    page = database.history.query(HistoryFilter(product_id=product.id))
    assert page.total >= 3
    record = database.inspections.get(ids[0])
    assert record.source == "demo" and record.source_name.endswith(".png") and record.station == "test-station"
    assert record.image_file.is_file() and record.heatmap_file is not None and record.heatmap_file.is_file()
    assert (record.width, record.height) == (320, 320)
    assert record.encoder_id == "fake-encoder"

    # The window shows the latest result and where it went.
    assert rig.window.verdict.verdict_text() in ("PASS", "FAIL")
    assert rig.window.live_view.holding
    assert "saved #" in rig.window.status.database.text()
    assert "FPS" in rig.window.status.camera.text() or "Demo camera" in rig.window.status.camera.text()

    # History shows the rows; a review there reaches the database.
    qtbot.waitUntil(lambda: rig.history.model.rowCount() >= 3, timeout=5000)
    with qtbot.waitSignal(rig.history.reviewSaved, timeout=5000):
        rig.history.confirm_defect(ids[0], "seen at the line")
    assert database.inspections.get(ids[0]).review_status == "confirmed_defect"


def test_space_inspects_the_current_frame_and_the_chat_keeps_the_result(qtbot, make_rig, database):
    rig, _product = _demo_running(qtbot, make_rig, database)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        qtbot.keyClick(rig.window, Qt.Key.Key_Space)
    outcome = rig.station.last_outcome
    assert outcome is not None
    assert rig.window.verdict.verdict_text() == outcome.result.verdict
    assert f"{outcome.result.probability * 100:.1f} %" in rig.window.verdict.detail_text()
    assert rig.window.live_view.holding and rig.window.live_view.canvas.regions() == outcome.result.regions
    last = rig.window.chat.messages[-1]
    assert last.role == "system" and last.text.startswith(outcome.result.verdict)
    assert database.inspections.get(recorded.args[0]).verdict == outcome.result.verdict
    # Esc goes back to the live picture.
    qtbot.keyClick(rig.window, Qt.Key.Key_Escape)
    assert not rig.window.live_view.holding
    assert rig.window.verdict.detail_text().startswith("Last inspected part")


def test_no_thread_is_left_running_after_the_window_closes(qtbot, make_rig, database):
    before = {t.ident for t in threading.enumerate()}
    rig, _product = _demo_running(qtbot, make_rig, database, first_frame=False)
    rig.station.set_auto(True)
    _recorded_ids(rig, 2, qtbot)
    capture = rig.station.feed.capture
    assert capture is not None and capture.running
    rig.close()
    assert not capture.running
    assert rig.station.feed.capture is None
    assert not rig.inference.is_running
    assert not rig.recorder.is_running
    assert [t.name for t in threading.enumerate() if t.is_alive() and t.ident not in before] == []


def test_questions_get_the_measured_facts_while_no_language_model_is_connected(qtbot, make_rig, database):
    rig, _product = _demo_running(qtbot, make_rig, database, first_frame=False)
    chat = rig.window.chat
    chat.input.setText("is it ok?")
    chat.send_button.click()
    assert chat.messages[-1].role == "assistant" and "No part has been inspected yet" in chat.messages[-1].text
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        rig.station.inspect_now()
    chat.input.setText("where is the defect?")
    chat.send_button.click()
    answer = chat.messages[-1].text
    verdict = rig.station.last_outcome.result.verdict
    assert f"{verdict} (Demo disk, inspection #{recorded.args[0]})" in answer
    assert [m.role for m in chat.messages] == ["user", "assistant", "system", "user", "assistant"]


def test_worker_and_camera_signals_touch_widgets_only_in_the_gui_thread(qtbot, make_rig, database):
    gui = threading.get_ident()
    product = ensure_demo_product(database)
    rig = make_rig()
    seen: list[tuple[str, int]] = []
    status = rig.window.status
    real_set_camera = status.set_camera

    def set_camera(*args, **kw):
        seen.append(("camera", threading.get_ident()))
        real_set_camera(*args, **kw)

    status.set_camera = set_camera
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    rig.station.open_products_dialog()
    dialog = rig.station.products_dialog
    qtbot.waitUntil(lambda: dialog.current_product_id() == product.id and not dialog.reading, timeout=5000)
    real_outcome = dialog.show_build_outcome
    dialog.show_build_outcome = lambda *a: (seen.append(("dialog", threading.get_ident())), real_outcome(*a))
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.request_build(product.id)
    qtbot.waitUntil(lambda: ("dialog", gui) in seen and "FPS" in status.camera.text(), timeout=5000)
    assert dialog.progress.format() == "Model ready"
    assert {tid for _, tid in seen} == {gui}


def test_pause_stops_the_camera_and_resume_starts_it_again(qtbot, make_rig, database):
    rig, _product = _demo_running(qtbot, make_rig, database, first_frame=False)
    rig.station.set_auto(True)
    rig.window.controls.pause_button.click()
    assert rig.station.feed.capture is None and not rig.station.auto
    assert rig.window.status.camera.text() == "Demo camera: paused"
    index = rig.station.current_frame.index if rig.station.current_frame else 0
    qtbot.wait(200)
    assert (rig.station.current_frame.index if rig.station.current_frame else 0) == index  # no frames while paused
    rig.window.controls.pause_button.click()
    qtbot.waitUntil(
        lambda: (
            rig.station.current_frame is not None
            and rig.station.current_frame.index >= 1
            and rig.station.feed.capture is not None
            and rig.station.feed.capture.frames_read > 2
        ),
        timeout=5000,
    )


def test_a_part_the_plc_triggers_shows_in_the_window_like_the_operators(qtbot, make_rig, database):
    """The window and the PLC servers are views of one controller: a trigger by the PLC's call is shown and
    recorded like the operator's, and holds the station until the PLC acknowledges it."""
    from line.events import StationState

    rig, _product = _demo_running(qtbot, make_rig, database)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        assert rig.station.controller.trigger("PLC-7") is None  # what the OPC UA and Modbus servers call
    assert database.inspections.get(recorded.args[0]).part_id == "PLC-7"
    assert rig.window.verdict.verdict_text() == rig.station.last_outcome.result.verdict
    assert rig.station.line.state is StationState.RESULT_READY  # the PLC's part waits for its acknowledgement
    rig.station.inspect_now()  # the operator's Inspect is refused until then, and says why
    assert "not acknowledged" in rig.window.status.currentMessage()
    assert rig.station.controller.acknowledge() and rig.station.line.state is StationState.READY
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000):
        rig.station.inspect_now()
    assert rig.station.line.state is StationState.READY  # the operator's part needs no acknowledgement


def test_each_part_is_recorded_with_who_was_logged_in(qtbot, make_rig, database):
    """The window's controller is told who logs in and out (desktop/app.py); each row names that person."""
    rig, _product = _demo_running(qtbot, make_rig, database)
    rig.station.controller.set_operator("anna")
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        rig.station.inspect_now()
    assert database.inspections.get(recorded.args[0]).operator == "anna"
    rig.station.controller.set_operator("")  # logged out (idle): nobody is named
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        rig.station.inspect_now()
    assert database.inspections.get(recorded.args[0]).operator == ""


def test_a_part_marked_for_review_leaves_the_line_pool(qtbot, make_rig, database):
    """What an operator doubts is not learned as normal while it waits (the pool side: tests/line/test_inference)."""
    from core.imageio import load_image_bytes
    from core.memory import image_hash

    rig, product = _demo_running(qtbot, make_rig, database)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000) as recorded:
        rig.station.inspect_now()
    record = database.inspections.get(recorded.args[0])
    with database.store.open(record.image_sha256) as fh:
        key = image_hash(load_image_bytes(fh.read()))
    forgotten: list[tuple[int, str]] = []
    rig.station.controller.forget_part = lambda pid, sha: forgotten.append((pid, sha))
    rig.station.on_review_saved(record.id)  # not confirmed defective: it stays
    rig.station.on_review_requested(record.id)
    qtbot.waitUntil(lambda: len(forgotten) == 1, timeout=5000)
    assert forgotten == [(product.id, key)]


def test_the_products_dialog_of_the_station_writes_as_the_logged_in_user(qtbot, make_rig, database):
    from db.guarded import GuardedDatabase
    from desktop.controllers.guarded_writes import guarded_repositories

    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    anna = g.users.add(admin, "anna", "operator", "operator-pass1")
    rig = make_rig()
    rig.station.use_guarded_writes(*guarded_repositories(g, lambda: anna))  # what desktop/app.py does at login
    rig.station.open_products_dialog()
    dialog = rig.station.products_dialog
    qtbot.waitUntil(lambda: not dialog.reading, timeout=5000)
    dialog.name_edit.setText("valve")
    with qtbot.waitSignal(dialog.write_finished) as finished:
        dialog.create_button.click()
    assert finished.args == [False] and "anna (operator) may not create" in dialog.message.text()
    assert database.products.list() == []


def test_the_window_goes_on_while_the_model_inspects(qtbot, make_rig, database):
    """No call into the controller waits for its threads: Inspect returns at once, and live frames keep coming
    while the part is being inspected."""
    import time

    from tests.station_fakes import FakeInspector

    product = ensure_demo_product(database)
    rig = make_rig(inspector=FakeInspector(inspect_delay_s=1.5))
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    t0 = time.monotonic()
    rig.station.inspect_now()
    assert time.monotonic() - t0 < 0.5  # the model takes 1.5 s
    index = rig.station.current_frame.index
    qtbot.waitUntil(lambda: rig.station.current_frame.index >= index + 3, timeout=3000)
    assert rig.station.line.in_flight is not None  # still inspecting, and the live picture went on
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=10000):
        pass


def test_the_product_selector_follows_the_controllers_switch(qtbot, make_rig, database):
    product = ensure_demo_product(database)
    other = database.products.create("bracket-7")
    rig = make_rig()
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    assert rig.window.controls.selected_product_id() == product.id
    assert rig.station.controller.select_recipe(other.id) is None  # as the PLC's RecipeId write does
    qtbot.waitUntil(lambda: rig.window.controls.selected_product_id() == other.id, timeout=5000)
    assert rig.station.product_id == other.id


def test_the_operators_controls_follow_the_role_table_not_only_the_buttons(qtbot, make_rig, database):
    """Inspect, Auto and the chat ask the role table (db/roles.py) for the person at the window: with nobody logged
    in (the login dialog up after an idle logout) nothing starts; Auto can always be switched off."""
    from datetime import UTC, datetime

    from db.records import HistoryFilter
    from db.users import UserInfo
    from desktop.controllers.chat_link import ChatLink
    from desktop.workers.chat_worker import ChatService

    product = ensure_demo_product(database)
    rig = make_rig()
    link = ChatLink(rig.window.chat, ChatService(history=database.history_queries), database, rig.window.status)
    rig.station.attach_chat(link)
    with qtbot.waitSignal(rig.station.product_ready, timeout=10000):
        rig.station.start("demo", product.id)
    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    person: list[UserInfo | None] = [None]
    rig.station.who = link.who = lambda: person[0]
    rig.station.inspect_now()
    assert "Log in to inspect a part" in rig.window.status.currentMessage()
    assert rig.station.line.in_flight is None and database.history.query(HistoryFilter()).total == 0
    rig.station.set_auto(True)
    assert not rig.station.auto and not rig.window.controls.auto_button.isChecked()
    link.ask("Is there a defect?")
    assert rig.window.chat.messages[-1].text.startswith("Log in to ask in the chat")
    assert database.chat.for_product(product.id) == database.chat.for_product(None) == []  # not stored
    person[0] = UserInfo(1, "anna", "operator", True, 0, None, datetime.now(UTC))
    rig.station.set_auto(True)
    assert rig.station.auto
    person[0] = None
    rig.station.set_auto(False)  # stopping is never refused
    assert not rig.station.auto
