"""The window on the line: it hosts the station's OPC UA and Modbus servers and its MQTT publisher, built from the
same ``station.toml`` as the headless line runner (line/runner_endpoints.py), as further views of the controller the
window shows. A PLC's part is the window's part: its verdict is on screen, its row in the History.

They start with the window (``start``, after the station) and stop with it (the station's shutdown: the PLC
servers before the controller, MQTT after it). What cannot start or goes wrong later (a port already taken, a
broker that is down or refuses the login) is in the window's problem list under the endpoint's key ("opcua",
"modbus", "mqtt") with what to do; the window works on without it, and a problem that passes (the broker back)
clears itself.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from line.config import StationConfig
from line.problems import Severity
from line.runner_endpoints import Endpoint, StationEndpoints

log = logging.getLogger(__name__)

RESOLVED = ""  # the relayed text of a problem that passed (a str, not None, through the Qt signal)


def load_window_config(args: Any) -> tuple[StationConfig | None, str]:
    """``--config``: the validated station config (its encoder becomes the window's), or None and every problem
    with its line, as ``main.py line --check`` says them."""
    from line.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return None, f"The station config cannot be used:\n{exc}"
    args.encoder = config.station.encoder
    return config, ""


def config_product_id(config: StationConfig, database: Any, fallback: int | None) -> int | None:
    """The id of ``[station] product`` (a name or an id); the last product the window used when it names none
    that exists (logged; the products dialog shows what there is)."""
    from db.errors import DatabaseError
    from line.controller import StationController

    try:
        names = {p.id: p.name for p in database.products.list()}
    except DatabaseError as exc:
        log.error("the products could not be read: %s", exc)
        return fallback
    found = StationController.resolve_product(config.station.product, names)
    if found is None:
        log.error("[station] product %r is not in the database; known: %s", config.station.product, names)
        return fallback
    return found


class PlantLink(QObject):
    _problem = Signal(str, str)  # endpoint key, text ("" once resolved); emitted on any thread

    def __init__(self, station: Any, config: StationConfig, database: Any, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else station)
        self.window = station.window
        self.config = config
        self._problem.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self.endpoints = StationEndpoints(config, station.controller, database, on_problem=self._relay)
        station.host_endpoints(self.endpoints)

    def start(self) -> None:
        """Start the configured PLC servers and MQTT; none of them stops the window from working."""
        from line.config import security_lines

        for sec in security_lines(self.config):  # what runs open is in the log, as the line runner writes it
            (log.info if sec.secured else log.warning)("%s: %s", sec.endpoint, sec.text)
        self.endpoints.start_plc(strict=False)
        self.endpoints.start_mqtt(strict=False)
        served = self.serving()
        if served:
            self.window.status.showMessage(f"Serving the line: {served}", 10000)

    def serving(self) -> str:
        """What runs now, in words (the status bar's message at start)."""
        parts = []
        if self.endpoints.opcua is not None and self.config.opcua is not None:
            parts.append(f"OPC UA {self.config.opcua.endpoint}")
        if self.endpoints.modbus is not None and self.config.modbus is not None:
            parts.append(f"Modbus {self.config.modbus.host}:{self.config.modbus.port}")
        if self.endpoints.mqtt is not None and self.config.mqtt is not None:
            parts.append(f"MQTT {self.config.mqtt.host}:{self.config.mqtt.port} {self.config.mqtt.topic}")
        return ", ".join(parts)

    def _relay(self, endpoint: Endpoint, text: str | None) -> None:
        self._problem.emit(endpoint.value, text or RESOLVED)

    @Slot(str, str)
    def _show(self, key: str, text: str) -> None:
        if text == RESOLVED:
            self.window.clear_problem(key)
        else:
            severity = Severity.WARNING if key == Endpoint.MQTT.value else Severity.ERROR
            self.window.show_problem(key, text, severity)
