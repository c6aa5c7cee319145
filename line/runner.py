"""The headless line runner: camera, controller, inference, database, PLC servers and MQTT from one station config,
with no window (a cabinet PC). ``python main.py line --config station.toml`` runs it until SIGTERM / SIGINT.

Start order: database, PLC servers (a port already taken stops the start before anything runs), the controller
(recorder, camera, inference), MQTT. Stop order: the PLC servers (no new triggers), the controller (the part in
flight finishes, what the database has not taken goes to the unsaved folder), MQTT (what is ready goes out),
the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from db.audit_check import check_audit_at_start
from db.engine import default_data_dir
from line.capture.camera_link import CameraLink
from line.capture.spec import source_from_spec
from line.catalog import DatabaseCatalog
from line.config import StationConfig
from line.controller import StationController
from line.events import FaultCleared, FaultRaised, StationEvent
from line.frame_files import FrameFiles
from line.inference import InferenceEngine
from line.recorder import Recorder, Writer, database_writer
from line.runner_endpoints import EndpointConfigError, StationEndpoints
from line.shift import ShiftCounters, ShiftSchedule
from line.startup_cleanup import prepare_data_folder
from line.station_status import StationStatus
from line.unsaved_spool import UnsavedSpool

log = logging.getLogger(__name__)

UNSAVED_FOLDER = "unsaved"


class RunnerError(Exception):
    """The runner could not start; the message says what to change."""


def default_inspector_factory(encoder: str) -> Callable[[], Any]:
    def make() -> Any:
        from core.inspector import Inspector

        return Inspector(encoder=encoder, device="auto")

    return make


def open_station_database(config: StationConfig) -> Any:
    """The station's database as ``[station]`` says (data_dir, database_url); the window opens it the same way."""
    from db.repository import Database

    data_dir = default_data_dir(config.station.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Database.open(data_dir, url=config.station.database_url)


def station_writer(
    config: StationConfig,
    database: Any,
    frame_files: FrameFiles | None,
    *,
    operator: str = "",
    guarded: Any = None,
    actor: Any = None,
) -> Writer:
    """The recorder's writer for this station: its name on every row and, with ``[mqtt]``, each result's message in
    the outbox in the row's own transaction (the runner and the window alike)."""
    return database_writer(
        database,
        station=config.station.name,
        operator=operator,
        topic=config.mqtt.topic if config.mqtt else None,
        guarded=guarded,
        actor=actor,
        frame_files=frame_files,
    )


def _log_fault(event: StationEvent) -> None:
    if isinstance(event, FaultRaised):
        log.warning("station fault %s (%d): %s", event.fault.code.name, event.fault.code.value, event.fault.text)
    elif isinstance(event, FaultCleared):
        log.info("station fault %s (%d) cleared", event.code.name, event.code.value)


class LineRunner:
    def __init__(self, config: StationConfig, inspector_factory: Callable[[], Any] | None = None) -> None:
        self.config = config
        self.inspector_factory = inspector_factory or default_inspector_factory(config.station.encoder)
        self.data_dir = default_data_dir(config.station.data_dir)
        self.database: Any = None
        self.status: StationStatus | None = None
        self.controller: StationController | None = None
        self.endpoints: StationEndpoints | None = None  # OPC UA, Modbus, MQTT (line/runner_endpoints.py)
        self.audit_problem: str | None = None  # the audit chain found broken at start, in words
        self._started = False

    def start(self) -> None:
        """Start everything, or raise RunnerError / DatabaseError / PlcServerError having stopped what started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        log.info(
            "line runner started: station %s, product %s, camera %s (%s)",
            self.config.station.name,
            self.config.station.product,
            self.config.camera.source,
            self.config.camera.trigger.value,
        )

    def _start(self) -> None:
        cfg = self.config
        self.database = open_station_database(cfg)
        self.audit_problem = check_audit_at_start(self.database)  # logged; line_cmd prints it too (issue 14)
        guarded, actor = self._technical_user()
        self.status = StationStatus(counters=ShiftCounters(ShiftSchedule.from_strings(cfg.station.shift_starts)))
        # No window on a cabinet PC: the log is where a person reads why the station is in error (the PLC reads
        # the code). Each fault once when raised, and when it clears.
        self.status.bus.subscribe(_log_fault, FaultRaised, FaultCleared)
        frame_files = FrameFiles(self.database.store)
        writer = station_writer(
            cfg, self.database, frame_files, operator=actor.name if actor else "line", guarded=guarded, actor=actor
        )
        spool = UnsavedSpool(self.data_dir / UNSAVED_FOLDER)
        prepare_data_folder(self.database, spool)  # before the recorder starts: files without a row are moved away
        recorder = Recorder(writer, spool=spool)
        source = source_from_spec(cfg.camera.source, cti=str(cfg.camera.cti) if cfg.camera.cti else None)
        camera = CameraLink(source, cfg.camera.trigger)
        self.controller = StationController(
            self.status,
            InferenceEngine(self.inspector_factory),
            recorder,
            camera,
            DatabaseCatalog(self.database, self.data_dir),
            product=cfg.station.product,
            ack_timeout_s=cfg.station.ack_timeout_s,
            acquire_timeout_s=cfg.camera.acquire_timeout_s,
            frame_files=frame_files,
        )
        self.endpoints = StationEndpoints(cfg, self.controller, self.database)
        self.endpoints.start_plc(strict=True)  # a port already taken: PlcServerError before anything runs
        self.controller.start()
        try:
            self.endpoints.start_mqtt(strict=True)
        except EndpointConfigError as exc:
            raise RunnerError(str(exc)) from exc

    @property
    def opcua(self) -> Any:
        return self.endpoints.opcua if self.endpoints is not None else None

    @property
    def modbus(self) -> Any:
        return self.endpoints.modbus if self.endpoints is not None else None

    @property
    def mqtt(self) -> Any:
        return self.endpoints.mqtt if self.endpoints is not None else None

    def _technical_user(self) -> tuple[Any, Any]:
        """The configured technical user (role "line") the results are recorded as, checked now; (None, None)
        when none is configured."""
        name = self.config.station.user
        if not name:
            return None, None
        from db.errors import DatabaseError, NotFoundError
        from db.guarded import GuardedDatabase
        from db.roles import INSPECT, LINE

        guarded = GuardedDatabase(self.database)
        try:
            user = guarded.users.get(name)
        except NotFoundError as exc:
            raise RunnerError(
                f"[station] user {name!r} does not exist: create it with "
                f"main.py users add {name} --role line ... ({exc})"
            ) from exc
        if user.role != LINE:
            raise RunnerError(
                f"[station] user {name!r} has the role {user.role!r}; the line runner records as a "
                "technical user with the role 'line' (main.py users add NAME --role line)"
            )
        try:
            return guarded, guarded.check(user, INSPECT)
        except DatabaseError as exc:  # PermissionDenied: disabled, or the role may not
            raise RunnerError(f"[station] user {name!r} may not inspect: {exc}") from exc

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop in order (idempotent); every part is bounded by its own timeout."""
        if self.endpoints is not None:
            self.endpoints.stop_plc()
        if self.controller is not None:
            self.controller.stop(timeout_s)
            self.controller = None
        if self.endpoints is not None:
            self.endpoints.stop_mqtt()
            self.endpoints = None
        if self.database is not None:
            self.database.close()
            self.database = None
        if self._started:
            log.info("line runner stopped cleanly")
            self._started = False

    @property
    def log_hint(self) -> Path:
        from line.logs import LOG_FILE, LOG_FOLDER

        return self.data_dir / LOG_FOLDER / LOG_FILE
