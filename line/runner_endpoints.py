"""The station's plant endpoints from the station config: the OPC UA and Modbus servers the PLC talks to and the
MQTT publisher the MES listens to, as views of one station controller. The headless line runner (line/runner.py)
and the window (desktop/controllers/plant_link.py) both build them here, from the same ``station.toml``.

The runner starts them strictly: a port already taken stops its start before anything runs. The window starts them
leniently: what cannot start is reported to ``on_problem`` (an :class:`Endpoint` and what to do, in words) and
the window works on without it; a broker that is down, refuses the login or drops the connection is reported
the same way, and cleared (``None``) once it is connected again. ``on_problem`` is called on whichever thread
noticed (the caller's, paho's network thread).

Stop order (the runner's and the window's): ``stop_plc`` before the controller stops (no new triggers),
``stop_mqtt`` after it (what the controller recorded last goes out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from line.config import MqttSection, StationConfig
from line.controller import StationController

log = logging.getLogger(__name__)


class Endpoint(Enum):
    """One plant endpoint; the value is the key its problem is listed under."""

    OPCUA = "opcua"
    MODBUS = "modbus"
    MQTT = "mqtt"


ProblemListener = Callable[[Endpoint, "str | None"], None]  # the problem in words; None: resolved


class EndpointConfigError(Exception):
    """An endpoint's config cannot be used as it is (a password file that cannot be read)."""


def mqtt_credentials(section: MqttSection) -> dict[str, Any]:
    """The publisher's login and TLS from ``[mqtt]`` (the password read from its file now)."""
    from line.endpoint_security import MqttSecurity, read_secret
    from line.mqtt.publisher import MqttTls

    out: dict[str, Any] = {}
    if section.username and section.password_file is not None:
        try:
            out.update(username=section.username, password=read_secret(section.password_file))
        except (OSError, ValueError) as exc:
            raise EndpointConfigError(f"[mqtt] password_file: cannot be read ({exc})") from exc
    if section.security is MqttSecurity.TLS:
        out["tls"] = MqttTls(section.ca, section.cert, section.key)
    return out


class StationEndpoints:
    def __init__(
        self,
        config: StationConfig,
        controller: StationController,
        database: Any,  # db.repository.Database: the OPC UA logins, the MQTT outbox
        *,
        on_problem: ProblemListener | None = None,
    ) -> None:
        self.config = config
        self.controller = controller
        self.database = database
        self.on_problem = on_problem
        self.opcua: Any = None  # line.plc.opcua_server.OpcUaServer while it runs
        self.modbus: Any = None  # line.plc.modbus_server.ModbusServer
        self.mqtt: Any = None  # line.mqtt.publisher.MqttPublisher

    @property
    def where(self) -> str:
        return str(self.config.path) if self.config.path else "the station config"

    # -- the PLC servers ----------------------------------------------------------------------------------------
    def start_plc(self, *, strict: bool = True) -> None:
        """Start the configured PLC servers. ``strict``: the first that cannot start raises PlcServerError (those
        already started are stopped); else it is reported to ``on_problem`` and the others start."""
        from line.plc.server_thread import PlcServerError

        for endpoint, start in ((Endpoint.OPCUA, self._start_opcua), (Endpoint.MODBUS, self._start_modbus)):
            if getattr(self.config, endpoint.value) is None:
                continue
            try:
                start()
            except PlcServerError as exc:
                if strict:
                    self.stop_plc()
                    raise
                log.error("%s", exc)
                self._problem(
                    endpoint,
                    f"{exc}. The PLC cannot reach the station this way; fix {self.where} or free "
                    "the port, then start the station again.",
                )
            else:
                self._problem(endpoint, None)

    def _start_opcua(self) -> None:
        cfg = self.config.opcua
        if cfg is None or self.opcua is not None:
            return
        from db.guarded import GuardedDatabase
        from line.plc.opcua_security import OpcUaSecuritySettings, station_user_check
        from line.plc.opcua_server import OpcUaServer

        server = OpcUaServer(
            self.controller,
            cfg.endpoint,
            security=OpcUaSecuritySettings(cfg.security, cfg.certificate, cfg.private_key),
            users=station_user_check(GuardedDatabase(self.database).users),
        )
        server.start()  # PlcServerError: it has stopped its own thread
        self.opcua = server

    def _start_modbus(self) -> None:
        cfg = self.config.modbus
        if cfg is None or self.modbus is not None:
            return
        from line.plc.modbus_server import ModbusServer

        server = ModbusServer(self.controller, cfg.host, cfg.port, allow=cfg.allow)
        server.start()
        self.modbus = server

    def stop_plc(self) -> None:
        """Stop the PLC servers (idempotent): no trigger comes in any more."""
        for name in ("opcua", "modbus"):
            server = getattr(self, name)
            if server is not None:
                server.stop()
                setattr(self, name, None)

    # -- MQTT -----------------------------------------------------------------------------------------------------
    def start_mqtt(self, *, strict: bool = True) -> None:
        """Start the MQTT publisher when ``[mqtt]`` is configured. Its password file unreadable: EndpointConfigError
        (``strict``) or a problem. The broker's state is reported as it changes (a broker that is down is not an
        error to start with: the results wait in the outbox)."""
        cfg = self.config.mqtt
        if cfg is None or self.mqtt is not None:
            return
        from line.mqtt.publisher import MqttPublisher

        try:
            credentials = mqtt_credentials(cfg)
        except EndpointConfigError as exc:
            if strict:
                raise
            self._problem(Endpoint.MQTT, f"{exc}: the results wait in the outbox; fix {self.where} and start again.")
            return
        self.mqtt = MqttPublisher(
            self.database.outbox,
            cfg.host,
            cfg.port,
            cfg.topic,
            status=self.controller.status,
            client_id=cfg.client_id or f"inspection-station-{self.config.station.name}",
            keepalive_s=cfg.keepalive_s,
            on_connection=self._on_broker,
            **credentials,
        )
        self.mqtt.start()

    def _on_broker(self, link: Any, text: str) -> None:
        from line.mqtt.publisher import BrokerLink

        if link is BrokerLink.CONNECTED:
            self._problem(Endpoint.MQTT, None)
            return
        cfg = self.config.mqtt
        assert cfg is not None
        hint = (
            f"check [mqtt] username and password_file in {self.where}"
            if link is BrokerLink.REFUSED
            else f"is the broker running? ([mqtt] host {cfg.host}, port {cfg.port} in {self.where})"
        )
        self._problem(
            Endpoint.MQTT,
            f"MQTT: {text}; {hint}. Results wait in the database's outbox and go out in order once the broker "
            "takes them; the station reconnects by itself.",
        )

    def stop_mqtt(self) -> None:
        """Send what is ready, say "offline" and disconnect (idempotent)."""
        if self.mqtt is not None:
            self.mqtt.on_connection = None
            self.mqtt.stop()
            self.mqtt = None

    def stop(self) -> None:
        self.stop_plc()
        self.stop_mqtt()

    def _problem(self, endpoint: Endpoint, text: str | None) -> None:
        if self.on_problem is not None:
            try:
                self.on_problem(endpoint, text)
            except Exception:
                log.exception("the endpoint problem listener failed")
