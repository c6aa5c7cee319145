"""The desktop station's start-up: arguments, database, workers, window.

python main.py [--data-dir DIR] [--demo] [--source SPEC] [--screenshot OUT.png [--frames N]]
python main.py --config station.toml     the window on the line: the station config's database, camera and
                                         product, hosting its OPC UA / Modbus servers and MQTT (docs/plc.md)
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

SOURCE_HELP = "camera number (0), video file, image folder, rtsp:// or http:// URL, or 'demo'"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description="Inspection station (desktop)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the database and images live (default: $INSPECTION_DATA_DIR, else the user data folder)",
    )
    parser.add_argument("--demo", action="store_true", help="use the simulated demo camera and the demo product")
    parser.add_argument("--source", default=None, help=f"frame source: {SOURCE_HELP}")
    parser.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="inspect --frames frames unattended, save a picture of the window and exit",
    )
    parser.add_argument("--frames", type=int, default=5, help="frames to inspect before the screenshot (default 5)")
    parser.add_argument("--encoder", default="efficientnet-lite0", help="vision encoder (default efficientnet-lite0)")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="station.toml",
        help="the line runner's station config: its database, camera, product and encoder, and the window hosts "
        "its OPC UA / Modbus servers and MQTT publisher (docs/plc.md)",
    )
    return parser.parse_args(argv)


AUDIT_PROBLEM = "audit-chain"  # the banner key of a broken audit trail


def _fatal(message: str, interactive: bool) -> int:
    print(f"error: {message}", file=sys.stderr)
    if interactive:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Inspection station", message)
    return 2


def show_audit_problem(window, database) -> str | None:
    """The audit chain checked at start; a broken one is shown in the banner (and logged) until dismissed."""
    from db.audit_check import check_audit_at_start
    from line.problems import Severity

    problem = check_audit_at_start(database)
    if problem is not None:
        window.show_problem(AUDIT_PROBLEM, problem, Severity.ERROR)
    return problem


def guard_limit(guarded) -> float:
    """The admin's share of recent failures a threshold move may let pass without a second person. A database
    that cannot be read gives the default here; the database layer reads it again when the review is saved."""
    from db.errors import DatabaseError
    from db.threshold_moves import THRESHOLD_GUARD_SETTING, guard_share

    try:
        return guard_share(guarded.get_station_setting(THRESHOLD_GUARD_SETTING))
    except DatabaseError:
        return guard_share(None)


def log_in(window, database):
    """Who works at the window (issue 14): the first admin's set-up on a station without users, then the login; the
    name in the status bar and the idle logout from then on. None when the person chose Quit."""
    from db.guarded import GuardedDatabase
    from desktop.controllers.login_session import LoginSession

    session = LoginSession(window, GuardedDatabase(database))
    return session if session.start() else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    headless = args.screenshot is not None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtWidgets import QApplication

    from db.engine import default_data_dir
    from db.errors import DatabaseError
    from db.repository import Database
    from desktop.controllers.demo_setup import ensure_demo_product
    from desktop.controllers.station_settings import StationSettings
    from line.capture.spec import DEMO_SPEC

    app = QApplication.instance() or QApplication(["inspection-station"])
    interactive = args.screenshot is None
    config = None
    if args.config is not None:  # the window on the line (desktop/controllers/plant_link.py)
        from desktop.controllers.plant_link import load_window_config

        config, problem = load_window_config(args)
        if config is None:
            return _fatal(problem, interactive)
    data_dir = default_data_dir(config.station.data_dir if config else args.data_dir)
    try:
        if config is not None:
            from line.runner import open_station_database

            database = open_station_database(config)
        else:
            database = Database.open(data_dir)
    except DatabaseError as exc:
        return _fatal(f"{exc}", interactive)

    settings = StationSettings.load(data_dir)
    spec = args.source or (config.camera.source if config else None)
    spec = spec or (DEMO_SPEC if args.demo else settings.source or DEMO_SPEC)
    product_id = settings.product_id
    if config is not None:
        from desktop.controllers.plant_link import config_product_id

        product_id = config_product_id(config, database, product_id)
    if args.demo or spec == DEMO_SPEC:
        try:
            product_id = ensure_demo_product(database).id if args.demo or product_id is None else product_id
        except (DatabaseError, FileNotFoundError) as exc:
            database.close()
            return _fatal(f"The demo product could not be prepared: {exc}", interactive)

    try:
        return _run(app, args, database, data_dir, settings, spec, product_id, config)
    finally:
        database.close()


def _run(app, args, database, data_dir: Path, settings, spec: str, product_id: int | None, config=None) -> int:
    from core.inspector import Inspector
    from db.guarded import GuardedDatabase
    from desktop.controllers.chat_link import ChatLink
    from desktop.controllers.guarded_writes import guarded_repositories
    from desktop.controllers.screenshot_run import ScreenshotRun
    from desktop.controllers.station import Station
    from desktop.dialogs.reference_guard import ReferenceGuard, ask_with_dialog
    from desktop.dialogs.threshold_confirm_dialog import ask_second_confirmation
    from desktop.main_window import MainWindow
    from desktop.views.admin.admin_view import AdminView
    from desktop.views.audit.audit_view import AuditView
    from desktop.views.history.history_view import HistoryView
    from desktop.views.stats.statistics_view import StatisticsView
    from desktop.workers.chat_worker import ChatService
    from desktop.workers.inference_worker import InferenceService
    from line.frame_files import FrameFiles
    from line.recorder import Recorder, database_writer
    from line.startup_cleanup import prepare_data_folder
    from line.unsaved_spool import UnsavedSpool
    from line.write_errors import RETRY_DELAYS_S

    spool = UnsavedSpool(Path(data_dir) / "unsaved")
    prepare_data_folder(database, spool)  # before the writer starts: files without a row go to the quarantine
    window = MainWindow()
    login = log_in(window, database) if args.screenshot is None else None  # a screenshot run has nobody to ask
    if args.screenshot is None and login is None:
        window.deleteLater()
        return 0
    inference = InferenceService(lambda: Inspector(encoder=args.encoder, device="auto"))
    frame_files = FrameFiles(database.store)  # a part's frame is written while it is inspected (line/frame_files.py)
    if config is not None:  # the station's name on each row, each result's MQTT message in the outbox
        from line.runner import station_writer

        writer = station_writer(config, database, frame_files)
    else:
        writer = database_writer(database, station=socket.gethostname(), frame_files=frame_files)
    recorder = Recorder(writer, spool=spool, retry_delays_s=RETRY_DELAYS_S)
    line_options = {}
    if config is not None:
        line_options = {
            "ack_timeout_s": config.station.ack_timeout_s,
            "acquire_timeout_s": config.camera.acquire_timeout_s,
            "after_trigger": config.opcua is not None or config.modbus is not None,
        }
    station = Station(
        window, database, inference, recorder, data_dir, settings, frame_files=frame_files, **line_options
    )
    plant = None
    if config is not None:
        from desktop.controllers.plant_link import PlantLink

        plant = PlantLink(station, config, database)  # stops with the station (its shutdown)
    history = HistoryView(database, database.store)
    if login is not None:  # reviews and exports as the logged-in user, through the permission-checked, audited layer
        history.use_guarded(login.guarded)
        history.set_session_user(login.user)
        login.user_changed.connect(history.set_session_user)
        station.use_guarded_writes(*guarded_repositories(login.guarded, lambda: login.user))
        station.controller.set_operator(login.user.name if login.user is not None else "")  # on each part's row
        login.user_changed.connect(lambda user: station.controller.set_operator(user.name if user is not None else ""))
    stats = StatisticsView(database)
    audit_view = AuditView(login.guarded.audit if login is not None else GuardedDatabase(database).audit)
    if login is not None:  # the audit export is the logged-in user's, checked and audited
        audit_view.use_guarded(login.guarded)
        audit_view.set_session_user(login.user)
        login.user_changed.connect(audit_view.set_session_user)
    admin_view = AdminView(login.guarded if login is not None else GuardedDatabase(database))
    if login is not None:  # users and settings changed as the logged-in user; a new idle time applies at once
        admin_view.set_session_user(login.user)
        login.user_changed.connect(admin_view.set_session_user)
        admin_view.settingsSaved.connect(lambda idle_s, _share: login.set_idle_timeout(idle_s))
        admin_view.ownAccountChanged.connect(login.refresh_user)
    window.add_view("History", history)
    window.add_view("Statistics", stats)
    window.add_view("Audit", audit_view)
    window.add_view("Users", admin_view)
    station.inspection_recorded.connect(history.on_inspection_recorded)
    station.inspection_recorded.connect(stats.on_inspection_recorded)
    history.referenceAdded.connect(station.on_references_changed)
    history.reviewSaved.connect(station.on_review_saved)
    history.reviewRequested.connect(station.on_review_requested)
    guard = ReferenceGuard(
        database,
        inference,
        ask_with_dialog(window),
        parent=window,
        confirm=lambda move, limit: ask_second_confirmation(move, limit, window),
        limit_share=(lambda: guard_limit(login.guarded)) if login is not None else None,
    )
    history.reference_guard = guard.check  # a false alarm is measured before it becomes a reference

    def open_record(inspection_id: int) -> None:  # a part of the filmstrip opens its record in the History
        window.tabs.setCurrentWidget(history)
        if not history.select_inspection(inspection_id):
            window.status.showMessage(f"Inspection #{inspection_id} is not in the History's current list.", 5000)

    window.filmstrip.part_clicked.connect(open_record)
    chat = ChatLink(window.chat, ChatService(history=database.history_queries), database, window.status, parent=window)
    station.attach_chat(chat)
    if login is not None:  # the role table applied to the operator's controls and the chat, not only the buttons
        station.who = chat.who = lambda: login.user
    if args.screenshot is None:  # load the language model once the inspection model is ready (CPU comes first)
        station.product_ready.connect(lambda _pid: chat.start())

    run = ScreenshotRun(station, window, args.screenshot, args.frames) if args.screenshot else None
    window.show()
    station.start(spec, product_id)
    if plant is not None:
        plant.start()  # the PLC servers and MQTT; what cannot start is in the problem list
    show_audit_problem(window, database)
    code = app.exec()
    station.shutdown()
    history.shutdown()
    stats.shutdown()
    window.deleteLater()
    if run is not None:
        return run.exit_code if run.exit_code is not None else 1
    return int(code)
