"""The live station's widgets: live view overlay, verdict badge, chat panel streaming, control bar."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from core.result import FAIL, PASS, InspectionResult, Region
from desktop.widgets.chat_panel import ChatPanel
from desktop.widgets.control_bar import ControlBar
from desktop.widgets.live_view import LiveView
from desktop.widgets.verdict_badge import VerdictBadge
from line.outcome import heatmap_rgba


def _result(verdict: str = FAIL, regions=None) -> InspectionResult:
    amap = np.zeros((100, 200), np.float32)
    amap[10:40, 20:60] = 2.0
    return InspectionResult(
        verdict=verdict,
        probability=0.87 if verdict == FAIL else 0.02,
        score=2.0 if verdict == FAIL else 0.1,
        threshold=1.0,
        anomaly_map=amap,
        regions=regions if regions is not None else [Region((20, 10, 60, 40), 6.0, "top left", 2.0)],
        timings_ms={"total": 5.0},
        encoder_id="e",
        calibration_id="c",
    )


def _pixel(widget, x: int, y: int) -> QColor:
    return widget.grab().toImage().pixelColor(x, y)


def test_live_view_draws_heatmap_and_boxes_and_the_toggles_work(qtbot):
    view = LiveView()
    qtbot.addWidget(view)
    view.resize(420, 260)
    view.show()
    frame = np.full((100, 200, 3), 90, np.uint8)
    result = _result()
    view.show_result(frame, heatmap_rgba(result), result, "part: frame 1")
    assert view.holding and view.caption.text() == "part: frame 1"
    canvas = view.canvas
    rect = canvas.image_rect()
    scale = rect.width() / 200
    inside = (int(rect.x() + 40 * scale), int(rect.y() + 25 * scale))  # in the hot area
    hot = _pixel(canvas, *inside)
    assert hot.red() > 100 and hot.green() < 70 and hot.blue() < 70  # dark red heat over grey (90)
    box_edge = (int(rect.x() + 20 * scale), int(rect.y() + 32 * scale))
    edge = _pixel(canvas, *box_edge)
    assert edge.red() > 200 and edge.green() > 180 and edge.blue() < 80  # the yellow region box
    view.heatmap_toggle.setChecked(False)
    plain = _pixel(canvas, *inside)
    assert abs(plain.red() - 90) < 6 and abs(plain.blue() - 90) < 6
    view.heatmap_toggle.setChecked(True)
    view.opacity_slider.setValue(100)
    assert _pixel(canvas, *inside).red() > hot.red()
    # live frames wait while a result is held; release shows them
    view.show_live(np.zeros((100, 200, 3), np.uint8))
    assert _pixel(canvas, *inside).red() > 100
    view.release_hold()
    assert _pixel(canvas, *inside).red() < 10 and not canvas.regions()


def test_live_view_hold_times_out(qtbot):
    view = LiveView()
    qtbot.addWidget(view)
    result = _result(PASS, regions=[])
    with qtbot.waitSignal(view.hold_released, timeout=2000):
        view.show_result(np.zeros((50, 50, 3), np.uint8), None, result, "x", hold_s=0.05)
    assert not view.holding and view.caption.text() == "Live"


def test_verdict_badge_shows_verdict_and_probability(qtbot):
    badge = VerdictBadge()
    qtbot.addWidget(badge)
    badge.show_result(_result(FAIL))
    assert badge.verdict_text() == "FAIL" and "87.0 %" in badge.detail_text() and badge.state == FAIL
    badge.show_busy()
    assert badge.verdict_text() == "FAIL"  # keeps the last verdict while the next frame is inspected
    badge.show_result(_result(PASS, regions=[]))
    assert badge.verdict_text() == "PASS" and badge.state == PASS
    badge.mark_stale()  # the live picture is back: the verdict is about the last inspected part
    assert badge.verdict_text() == "PASS" and badge.detail_text().startswith("Last inspected part")
    assert badge.state == "stale_PASS"
    badge.show_result(_result(FAIL))
    assert badge.state == FAIL and not badge.detail_text().startswith("Last")
    badge.clear("Add at least one normal reference image")
    assert badge.verdict_text() == "—" and badge.state == "idle"


def test_verdict_badge_says_no_camera_until_frames_arrive(qtbot):
    badge = VerdictBadge()
    qtbot.addWidget(badge)
    badge.clear("gear ready. Press Space to inspect, or switch Auto on.")
    badge.show_no_camera("Camera 7 disconnected - reconnecting in 2 s\nCheck the cable.")
    assert badge.verdict_text() == "NO CAMERA" and "Check the cable" in badge.detail_text()
    badge.clear("gear2 ready. Press Space to inspect, or switch Auto on.")  # a prompt meanwhile waits for frames
    badge.show_busy()
    assert badge.state == "no_camera" and "Press Space" not in badge.detail_text()
    badge.camera_back()
    assert badge.state == "idle" and badge.detail_text().startswith("gear2 ready. Press Space")
    badge.camera_back()  # every frame calls it: nothing changes
    badge.show_result(_result(PASS, regions=[]))
    badge.camera_back()
    assert badge.state == PASS


def test_chat_panel_streams_tokens_and_keeps_the_transcript(qtbot):
    chat = ChatPanel()
    qtbot.addWidget(chat)
    asked: list[str] = []
    chat.send_requested.connect(asked.append)
    stops: list[bool] = []
    chat.stop_requested.connect(lambda: stops.append(True))
    chat.append_message("system", "FAIL: defect probability 87.0 %.")
    chat.input.setText("where is the defect?")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert asked == ["where is the defect?"] and chat.input.text() == ""
    chat.start_assistant_message()
    assert chat.stop_button.isEnabled() and not chat.send_button.isEnabled()
    chat.append_tokens("The defect ")
    chat.append_message("system", "PASS: next part.")  # a new result while the answer streams: it waits
    for token in ["is at the ", "top left."]:
        chat.append_tokens(token)
    chat.input.setText("ignored while streaming")
    chat.send_button.click()
    assert asked == ["where is the defect?"]
    chat.stop_button.click()
    assert stops == [True]
    chat.finish_assistant_message()
    assert not chat.is_streaming() and chat.send_button.isEnabled()
    assert [(m.role, m.text) for m in chat.messages] == [
        ("system", "FAIL: defect probability 87.0 %."),
        ("user", "where is the defect?"),
        ("assistant", "The defect is at the top left."),
        ("system", "PASS: next part."),
    ]
    text = chat.view.toPlainText()
    assert "You: where is the defect?" in text and "Station: The defect is at the top left." in text


def test_chat_panel_holds_the_conversation_about_the_part_on_screen_not_a_log(qtbot):
    """In Auto mode one part follows another: a result nobody talked about is replaced by the next one, so the last
    line always matches the badge; once someone asks about a part, that conversation stays."""
    chat = ChatPanel()
    qtbot.addWidget(chat)
    for i in range(120):
        chat.show_part_result(f"{'FAIL' if i % 2 else 'PASS'}: part {i}.")
    assert [(m.role, m.text) for m in chat.messages] == [("system", "FAIL: part 119.")]
    assert chat.view.toPlainText().count("Result:") == 1
    chat.input.setText("where is the defect?")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    chat.start_assistant_message()
    chat.append_tokens("At the top left.")
    chat.finish_assistant_message()
    chat.show_part_result("PASS: part 120.")
    chat.show_part_result("PASS: part 121.")
    assert [m.text for m in chat.messages] == [
        "FAIL: part 119.",
        "where is the defect?",
        "At the top left.",
        "PASS: part 121.",
    ]
    text = chat.view.toPlainText()
    assert "part 119" in text and "part 120" not in text and text.rstrip().endswith("PASS: part 121.")


def test_control_bar_asks_for_a_folder_and_keeps_the_source_on_cancel(qtbot):
    answers = iter(["folder:/data/parts", None])
    bar = ControlBar(ask_detail=lambda parent, spec: next(answers))
    qtbot.addWidget(bar)
    picked: list[str] = []
    bar.source_selected.connect(picked.append)
    bar.set_source("demo")
    folder_index = bar.source_combo.findData("folder:?")
    bar.source_combo.activated.emit(folder_index)
    assert picked == ["folder:/data/parts"] and bar.source_combo.currentData() == "folder:/data/parts"
    bar.source_combo.activated.emit(folder_index)  # cancelled
    assert picked == ["folder:/data/parts"] and bar.source_combo.currentData() == "folder:/data/parts"
    bar.source_combo.activated.emit(bar.source_combo.findData("0"))
    assert picked[-1] == "0"


def test_status_bar_message_is_whole_in_its_tooltip(qtbot):
    from desktop.widgets.station_status_bar import StationStatusBar

    bar = StationStatusBar()
    qtbot.addWidget(bar)
    bar.resize(300, 24)
    text = "Camera 7 could not be opened: check the cable and the camera index, then press Retry in the banner."
    bar.showMessage(text, 5000)
    assert bar.toolTip() == text
    bar.clearMessage()
    assert bar.toolTip() == ""


def test_status_bar_progress_text_fits_its_bar_and_the_tooltip_holds_it_whole(qtbot):
    from desktop.widgets.station_status_bar import StationStatusBar

    bar = StationStatusBar()
    qtbot.addWidget(bar)
    message = "Demo disk: self-calibration: simulated defect 12/24 of the reference's copies"
    bar.set_progress(0.83, message)
    shown = bar.progress.format().replace("%p%", "83%")
    width = bar.progress.fontMetrics().horizontalAdvance(shown)
    assert width <= bar.progress.maximumWidth() - 8 and "…" in shown
    assert bar.progress.toolTip() == f"{message} (83%)"
    bar.set_progress(0.5, "Loading")
    assert bar.progress.format() == "Loading %p%"


def test_status_bar_labels_leave_its_message_readable_at_the_default_width(qtbot):
    """The permanent labels used to take the whole bar: the message left of them read "Den" at 1360 px."""
    from PySide6.QtWidgets import QMainWindow

    from desktop.widgets.station_status_bar import StationStatusBar

    window = QMainWindow()
    qtbot.addWidget(window)
    bar = StationStatusBar()
    window.setStatusBar(bar)
    window.resize(1360, 840)  # desktop/main_window.py's default size
    window.show()
    model = "Demo disk ready (threshold 0.436) · efficientnet-lite0@579344248a93 · openvino"
    bar.set_camera("Demo camera", 5.0)
    bar.set_latency(125, 77)
    bar.set_learning("references", 6)
    bar.set_model(model)
    bar.set_database("station.sqlite3 · saved #7")
    message = "Demo camera connected"
    bar.showMessage(message)
    qtbot.waitUntil(lambda: bar.camera.width() >= bar.camera.sizeHint().width(), timeout=2000)  # laid out
    leftmost = min(label.x() for label in (bar.camera, bar.latency, bar.learning, bar.model, bar.database))
    assert leftmost >= bar.fontMetrics().horizontalAdvance(message) + 8  # the message is whole
    for label in (bar.camera, bar.latency, bar.learning, bar.database):
        assert label.shown_text() == label.text()  # what fits is never cut
    assert bar.model.text() == f"Model: {model}"
    assert bar.model.shown_text().endswith("…") and "Demo disk ready (threshold 0.436)" in bar.model.shown_text()
    assert bar.model.toolTip() == f"Model: {model}"
    assert "good parts this product has seen recently" in bar.learning.toolTip()  # its explanation stays


def test_status_bar_counts_the_parts_line_mode_learns_from(qtbot):
    from desktop.widgets.station_status_bar import StationStatusBar

    bar = StationStatusBar()
    qtbot.addWidget(bar)
    bar.set_learning("cold", 0)
    assert bar.learning.text() == "learning: starting"
    bar.set_learning("cold", 1)
    assert bar.learning.text() == "learning: 1 part (references only)"
    bar.set_learning("line", 37)
    assert bar.learning.text() == "learning: 37 parts"
    bar.set_learning("line", 37, drift=True)
    assert bar.learning.text() == "learning paused: drift"
    bar.set_learning("line", 40, adapting=0.4)
    assert bar.learning.text() == "learning: 40 parts · adapting 40%"
    bar.set_learning("line", 16, adapted_parts=24)
    assert bar.learning.text() == "learning: 16 parts · adapted on 24 parts"
