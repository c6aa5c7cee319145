"""The station config: one TOML file (``main.py line --config station.toml``), validated before anything starts.

    [station]
    data_dir = "/var/lib/inspection"      # database, images, models, logs (default: the user data folder)
    product = "widget"                    # the product (recipe) to start on: its name or id  (required)
    name = "line-1"                       # recorded with each inspection (default: the host name)
    user = "line-runner"                  # optional technical user (role "line") the results are recorded as
    database_url = "postgresql+psycopg://..."   # optional (default: SQLite in data_dir)
    ack_timeout_s = 10.0                  # a result not acknowledged by the PLC in this time raises ACK_TIMEOUT
    shift_starts = ["06:00", "14:00", "22:00"]
    encoder = "efficientnet-lite0"

    [camera]
    source = "pylon:40012345"             # same strings as the window's --source, plus pylon:SERIAL, genicam:...
    trigger = "software"                  # free-run | software | hardware
    acquire_timeout_s = 2.0
    cti = "/opt/vendor/producer.cti"      # GenTL producer for genicam: sources

    [opcua]
    endpoint = "opc.tcp://127.0.0.1:4840/inspection/"
    security = "sign-and-encrypt"         # or "sign"; "none" only on an isolated cell network  (required)
    certificate = "certs/station.der"     # with security: the server's certificate and private key
    private_key = "certs/station-key.pem"

    [modbus]
    host = "127.0.0.1"                    # bind to the cell network's interface
    port = 5020
    security = "none"                     # the only value: Modbus has no security (isolated network)  (required)
    allow = ["192.168.10.20"]             # optional: the client addresses / networks that may connect

    [mqtt]
    host = "127.0.0.1"
    port = 1883
    topic = "plant/line1/inspection"      # results; the retained status goes to topic + "/status"
    security = "tls"                      # "tls", "password" or "none"  (required)
    username = "station-1"                # with password_file: the broker login
    password_file = "secrets/mqtt-password"
    ca = "certs/broker-ca.pem"            # tls: the broker's CA; cert + key: a client certificate

Relative paths (``data_dir``, ``cti``, certificates, keys, ``password_file``) are taken from the config file's
folder. ``[opcua]``, ``[modbus]`` and ``[mqtt]`` are optional: a section left out is not started; a section that is
there must say how it is secured (``security``), and runs open only where it says ``security = "none"``
(line/endpoint_security.py, docs/plc.md). ``parse_config`` lists
every problem with its line number (unknown keys, wrong types, ports out of range, missing product).
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from line.capture.camera_link import TriggerMode
from line.endpoint_security import (
    IpNetwork,
    ModbusSecurity,
    MqttSecurity,
    OpcUaSecurity,
    SecurityLine,
    parse_allow,
    read_secret,
    readable_by_others,
)
from line.shift import DEFAULT_SHIFT_STARTS, parse_clock

DEFAULT_OPCUA_ENDPOINT = "opc.tcp://127.0.0.1:4840/inspection/"
DEFAULT_MODBUS_PORT = 5020
DEFAULT_MQTT_PORT = 1883


@dataclass(frozen=True)
class ConfigProblem:
    line: int | None
    message: str

    def format(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}" if self.line else f"{path}: {self.message}"


class ConfigError(Exception):
    def __init__(self, path: str, problems: list[ConfigProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.format(path) for p in problems))


@dataclass(frozen=True)
class StationSection:
    product: str | int
    data_dir: Path | None = None
    name: str = field(default_factory=socket.gethostname)
    user: str | None = None
    database_url: str | None = None
    ack_timeout_s: float = 10.0
    shift_starts: tuple[str, ...] = DEFAULT_SHIFT_STARTS
    encoder: str = "efficientnet-lite0"


@dataclass(frozen=True)
class CameraSection:
    source: str
    trigger: TriggerMode = TriggerMode.SOFTWARE
    acquire_timeout_s: float = 2.0
    cti: Path | None = None


@dataclass(frozen=True)
class OpcUaSection:
    endpoint: str = DEFAULT_OPCUA_ENDPOINT
    security: OpcUaSecurity = OpcUaSecurity.NONE
    certificate: Path | None = None
    private_key: Path | None = None


@dataclass(frozen=True)
class ModbusSection:
    host: str = "127.0.0.1"
    port: int = DEFAULT_MODBUS_PORT
    security: ModbusSecurity = ModbusSecurity.NONE
    allow: tuple[IpNetwork, ...] = ()  # empty: any client (the network must be isolated)


@dataclass(frozen=True)
class MqttSection:
    topic: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_MQTT_PORT
    client_id: str | None = None
    keepalive_s: int = 30
    security: MqttSecurity = MqttSecurity.NONE
    username: str | None = None
    password_file: Path | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def status_topic(self) -> str:
        return f"{self.topic.rstrip('/')}/status"


@dataclass(frozen=True)
class StationConfig:
    station: StationSection
    camera: CameraSection
    opcua: OpcUaSection | None = None
    modbus: ModbusSection | None = None
    mqtt: MqttSection | None = None
    path: Path | None = None


# key -> (types, required); the types a TOML value may have
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "station": {
        "data_dir": ((str,), False),
        "product": ((str, int), True),
        "name": ((str,), False),
        "user": ((str,), False),
        "database_url": ((str,), False),
        "ack_timeout_s": ((int, float), False),
        "shift_starts": ((list,), False),
        "encoder": ((str,), False),
    },
    "camera": {
        "source": ((str,), True),
        "trigger": ((str,), False),
        "acquire_timeout_s": ((int, float), False),
        "cti": ((str,), False),
    },
    "opcua": {
        "endpoint": ((str,), False),
        "security": ((str,), True),
        "certificate": ((str,), False),
        "private_key": ((str,), False),
    },
    "modbus": {
        "host": ((str,), False),
        "port": ((int,), False),
        "security": ((str,), True),
        "allow": ((list,), False),
    },
    "mqtt": {
        "host": ((str,), False),
        "port": ((int,), False),
        "topic": ((str,), True),
        "client_id": ((str,), False),
        "keepalive_s": ((int,), False),
        "security": ((str,), True),
        "username": ((str,), False),
        "password_file": ((str,), False),
        "ca": ((str,), False),
        "cert": ((str,), False),
        "key": ((str,), False),
    },
}
REQUIRED_SECTIONS = ("station", "camera")
_MISSING_HINTS = {
    ("opcua", "security"): ': say security = "sign-and-encrypt" (with certificate and private_key), "sign", or '
    '"none" to run the OPC UA server without security on an isolated cell network',
    ("modbus", "security"): ': Modbus TCP has no security; say security = "none" to confirm the server runs on an '
    "isolated network (and consider allow = [the PLC's address])",
    ("mqtt", "security"): ': say security = "tls" (optionally with username / password_file), "password", or "none" '
    "to publish without credentials or encryption",
}
_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", list: "a list", bool: "true/false"}
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def locate(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Line numbers of the tables and of their keys (TOML's parser keeps none)."""
    sections: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0]
        header = _HEADER.match(stripped)
        if header:
            current = header.group(1)
            sections.setdefault(current, number)
            continue
        key = _KEY.match(stripped)
        if key:
            keys.setdefault((current, key.group(1)), number)
    return sections, keys


def _words(types: tuple[type, ...]) -> str:
    return " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in types)


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self, text: str) -> None:
        self.sections, self.keys = locate(text)
        self.problems: list[ConfigProblem] = []

    def add(self, section: str, key: str | None, message: str) -> None:
        line = self.keys.get((section, key)) if key else None
        line = line or self.sections.get(section)
        self.problems.append(ConfigProblem(line, message))

    def port(self, section: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= 65535:
            self.add(section, "port", f"[{section}] port = {value}: out of range (1-65535)")

    def positive(self, section: str, key: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not value > 0:
            self.add(section, key, f"[{section}] {key} = {value}: must be more than 0")


def parse_config(text: str, path: str = "station.toml") -> StationConfig:
    """The validated config, or ConfigError listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            path, [ConfigProblem(int(match.group(1)) if match else None, f"not valid TOML: {exc}")]
        ) from None
    check = _Checker(text)
    for name, section in data.items():
        if name not in SCHEMA:
            check.add(name, None, f"unknown section [{name}] (known: {', '.join(f'[{s}]' for s in SCHEMA)})")
            continue
        if not isinstance(section, dict):
            check.problems.append(ConfigProblem(check.keys.get(("", name)), f"{name} must be a table [{name}]"))
            continue
        for key, value in section.items():
            spec = SCHEMA[name].get(key)
            if spec is None:
                check.add(name, key, f"[{name}] unknown key {key!r} (known: {', '.join(SCHEMA[name])})")
            elif isinstance(value, bool) or not isinstance(value, spec[0]):
                check.add(name, key, f"[{name}] {key} must be {_words(spec[0])}, not {_type_name(value)} ({value!r})")
        for key, (_types, required) in SCHEMA[name].items():
            if required and key not in section:
                check.add(name, None, f"[{name}] {key} is missing" + _MISSING_HINTS.get((name, key), ""))
    for name in REQUIRED_SECTIONS:
        if name not in data:
            check.problems.append(
                ConfigProblem(
                    None,
                    f"section [{name}] is missing"
                    + (
                        ' (it needs at least: product = "NAME")'
                        if name == "station"
                        else ' (it needs at least: source = "...")'
                    ),
                )
            )
    station: dict[str, Any] = data["station"] if isinstance(data.get("station"), dict) else {}
    camera: dict[str, Any] = data["camera"] if isinstance(data.get("camera"), dict) else {}
    _check_values(check, data, station, camera, Path(path).parent if path else Path("."))
    if check.problems:
        raise ConfigError(path, sorted(check.problems, key=lambda p: p.line or 0))
    return _build(data, station, camera, path)


def _check_values(
    check: _Checker, data: dict[str, Any], station: dict[str, Any], camera: dict[str, Any], base: Path
) -> None:
    product = station.get("product")
    if isinstance(product, str) and not product.strip():
        check.add("station", "product", "[station] product is empty: name the product (recipe) to start on")
    starts = station.get("shift_starts")
    if isinstance(starts, list):
        for s in starts:
            try:
                parse_clock(s)
            except ValueError as exc:
                check.add("station", "shift_starts", f"[station] shift_starts: {exc}")
        if not starts:
            check.add("station", "shift_starts", "[station] shift_starts is empty")
    check.positive("station", "ack_timeout_s", station.get("ack_timeout_s"))
    check.positive("camera", "acquire_timeout_s", camera.get("acquire_timeout_s"))
    trigger = camera.get("trigger")
    if isinstance(trigger, str) and trigger not in {m.value for m in TriggerMode}:
        check.add("camera", "trigger", f"[camera] trigger = {trigger!r}: use free-run, software or hardware")
    source = camera.get("source")
    if isinstance(source, str):
        from line.capture.spec import SourceSpecError, check_spec

        try:
            check_spec(source, cti=camera.get("cti") if isinstance(camera.get("cti"), str) else None)
        except SourceSpecError as exc:
            check.add("camera", "source", f"[camera] source: {exc}")
        if (
            source.startswith("genicam:")
            and not isinstance(camera.get("cti"), str)
            and not os.environ.get("GENICAM_GENTL64_PATH")
        ):
            check.add(
                "camera",
                "source",
                '[camera] a genicam: source needs cti = "PATH.cti" (the vendor\'s GenTL '
                "producer) or GENICAM_GENTL64_PATH",
            )
    cti = camera.get("cti")
    if isinstance(cti, str) and not Path(cti).expanduser().is_file():
        check.add("camera", "cti", f"[camera] cti: {cti} does not exist")
    opcua = data.get("opcua")
    if isinstance(opcua, dict) and isinstance(opcua.get("endpoint"), str):
        endpoint = opcua["endpoint"]
        m = re.match(r"^opc\.tcp://([^:/]+|\[[^\]]+\])(?::(\d+))?(/.*)?$", endpoint)
        if not m:
            check.add("opcua", "endpoint", f"[opcua] endpoint {endpoint!r} is not opc.tcp://HOST:PORT/PATH")
        elif m.group(2) and not 1 <= int(m.group(2)) <= 65535:
            check.add("opcua", "endpoint", f"[opcua] endpoint port {m.group(2)}: out of range (1-65535)")
    for name in ("modbus", "mqtt"):
        section = data.get(name)
        if isinstance(section, dict):
            check.port(name, section.get("port"))
            host = section.get("host")
            if isinstance(host, str) and not host.strip():
                check.add(name, "host", f"[{name}] host is empty")
    _check_security(check, data, base)
    mqtt = data.get("mqtt")
    if isinstance(mqtt, dict):
        topic = mqtt.get("topic")
        if isinstance(topic, str) and (not topic.strip() or any(c in topic for c in "#+")):
            check.add("mqtt", "topic", f"[mqtt] topic {topic!r}: a topic to publish to, without wildcards (# +)")
        check.positive("mqtt", "keepalive_s", mqtt.get("keepalive_s"))


def _file(base: Path, value: object) -> Path | None:
    if not isinstance(value, str):
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _check_security(check: _Checker, data: dict[str, Any], base: Path) -> None:
    """Each endpoint says how it is secured, and what its security needs is there."""
    _check_opcua_security(check, data.get("opcua"), base)
    _check_modbus_security(check, data.get("modbus"))
    _check_mqtt_security(check, data.get("mqtt"), base)


def _check_opcua_security(check: _Checker, opcua: Any, base: Path) -> None:
    if isinstance(opcua, dict) and isinstance(opcua.get("security"), str):
        value = opcua["security"]
        if value not in {m.value for m in OpcUaSecurity}:
            check.add("opcua", "security", f'[opcua] security = {value!r}: use "sign-and-encrypt", "sign" or "none"')
        elif value != OpcUaSecurity.NONE.value:
            for key, what in (("certificate", "the server's certificate"), ("private_key", "its private key")):
                if not isinstance(opcua.get(key), str):
                    check.add("opcua", None, f'[opcua] security = {value!r} needs {key} = "PATH" ({what})')
                elif not _file(base, opcua[key]).is_file():  # type: ignore[union-attr]
                    check.add("opcua", key, f"[opcua] {key}: {opcua[key]} does not exist")


def _check_modbus_security(check: _Checker, modbus: Any) -> None:
    if isinstance(modbus, dict):
        value = modbus.get("security")
        if isinstance(value, str) and value != ModbusSecurity.NONE.value:
            check.add(
                "modbus",
                "security",
                f'[modbus] security = {value!r}: Modbus TCP has no security of its own; the only value is "none" '
                "(put the server on an isolated network, bind host to its interface, list the PLC in allow)",
            )
        allow = modbus.get("allow")
        if isinstance(allow, list):
            for problem in parse_allow(allow)[1]:
                check.add("modbus", "allow", f"[modbus] allow: {problem}")


def _check_mqtt_security(check: _Checker, mqtt: Any, base: Path) -> None:
    if isinstance(mqtt, dict) and isinstance(mqtt.get("security"), str):
        value = mqtt["security"]
        if value not in {m.value for m in MqttSecurity}:
            check.add("mqtt", "security", f'[mqtt] security = {value!r}: use "tls", "password" or "none"')
            return
        has_user, has_password = isinstance(mqtt.get("username"), str), isinstance(mqtt.get("password_file"), str)
        if value == MqttSecurity.PASSWORD.value and not (has_user and has_password):
            check.add("mqtt", "security", '[mqtt] security = "password" needs username and password_file')
        elif has_user != has_password:
            check.add(
                "mqtt", "username" if has_user else "password_file", "[mqtt] give username and password_file together"
            )
        if value == MqttSecurity.NONE.value and (has_user or has_password):
            check.add(
                "mqtt",
                "security",
                '[mqtt] security = "none" with a username: say security = "password" (sent in clear) or "tls"',
            )
        tls_keys = [k for k in ("ca", "cert", "key") if isinstance(mqtt.get(k), str)]
        if tls_keys and value != MqttSecurity.TLS.value:
            check.add("mqtt", tls_keys[0], f'[mqtt] {", ".join(tls_keys)} only apply with security = "tls"')
        if isinstance(mqtt.get("cert"), str) != isinstance(mqtt.get("key"), str):
            check.add("mqtt", "cert", "[mqtt] give cert and key together (the client certificate and its key)")
        for key in (*tls_keys, *(["password_file"] if has_password else [])):
            p = _file(base, mqtt[key])
            if p is None or not p.is_file():
                check.add("mqtt", key, f"[mqtt] {key}: {mqtt[key]} does not exist")
            elif key == "password_file":
                try:
                    read_secret(p)
                except (OSError, ValueError) as exc:
                    check.add("mqtt", key, f"[mqtt] password_file: cannot be read ({exc})")


def _build(data: dict[str, Any], station: dict[str, Any], camera: dict[str, Any], path: str) -> StationConfig:
    base = Path(path).parent if path else Path(".")

    def folder(value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)

    st = StationSection(
        product=station["product"].strip() if isinstance(station["product"], str) else station["product"],
        data_dir=folder(station.get("data_dir")),
        name=station.get("name") or socket.gethostname(),
        user=station.get("user"),
        database_url=station.get("database_url"),
        ack_timeout_s=float(station.get("ack_timeout_s", 10.0)),
        shift_starts=tuple(station.get("shift_starts", DEFAULT_SHIFT_STARTS)),
        encoder=station.get("encoder", "efficientnet-lite0"),
    )
    cam = CameraSection(
        source=camera["source"],
        trigger=TriggerMode(camera.get("trigger", TriggerMode.SOFTWARE.value)),
        acquire_timeout_s=float(camera.get("acquire_timeout_s", 2.0)),
        cti=folder(camera.get("cti")),
    )
    opcua = modbus = mqtt = None
    if isinstance(data.get("opcua"), dict):
        o = data["opcua"]
        opcua = OpcUaSection(
            endpoint=o.get("endpoint", DEFAULT_OPCUA_ENDPOINT),
            security=OpcUaSecurity(o["security"]),
            certificate=_file(base, o.get("certificate")),
            private_key=_file(base, o.get("private_key")),
        )
    if isinstance(data.get("modbus"), dict):
        m = data["modbus"]
        modbus = ModbusSection(
            host=m.get("host", "127.0.0.1"),
            port=m.get("port", DEFAULT_MODBUS_PORT),
            security=ModbusSecurity(m["security"]),
            allow=parse_allow(m.get("allow", []))[0],
        )
    if isinstance(data.get("mqtt"), dict):
        q = data["mqtt"]
        mqtt = MqttSection(
            topic=q["topic"],
            host=q.get("host", "127.0.0.1"),
            port=q.get("port", DEFAULT_MQTT_PORT),
            client_id=q.get("client_id"),
            keepalive_s=q.get("keepalive_s", 30),
            security=MqttSecurity(q["security"]),
            username=q.get("username"),
            password_file=_file(base, q.get("password_file")),
            ca=_file(base, q.get("ca")),
            cert=_file(base, q.get("cert")),
            key=_file(base, q.get("key")),
        )
    return StationConfig(st, cam, opcua, modbus, mqtt, Path(path) if path else None)


def load_config(path: str | os.PathLike[str]) -> StationConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), [ConfigProblem(None, "the config file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [ConfigProblem(None, f"the config file cannot be read: {exc}")]) from None
    return parse_config(text, str(p))


def security_lines(config: StationConfig) -> list[SecurityLine]:
    """How each configured endpoint is secured, one line each (``main.py line --check`` prints them)."""
    lines: list[SecurityLine] = []
    if config.opcua is not None:
        o = config.opcua
        if o.security is OpcUaSecurity.NONE:
            lines.append(
                SecurityLine("OPC UA", 'security "none": no encryption, no login (isolated network only)', False)
            )
        else:
            mode = "SignAndEncrypt" if o.security is OpcUaSecurity.SIGN_AND_ENCRYPT else "Sign"
            lines.append(
                SecurityLine(
                    "OPC UA",
                    f"Basic256Sha256 {mode}, certificate {o.certificate}; clients log in as a station user with the "
                    "role line",
                    True,
                )
            )
    if config.modbus is not None:
        m = config.modbus
        allow = ", ".join(str(n) for n in m.allow) if m.allow else "any client"
        lines.append(
            SecurityLine("Modbus", f"no security (the protocol has none); bound to {m.host}; allowed: {allow}", False)
        )
    if config.mqtt is not None:
        q = config.mqtt
        login = f"user {q.username}" if q.username else "no login"
        if q.security is MqttSecurity.TLS:
            cert = ", client certificate" if q.cert else ""
            lines.append(SecurityLine("MQTT", f"TLS (CA {q.ca or 'system'}{cert}), {login}", True))
        elif q.security is MqttSecurity.PASSWORD:
            lines.append(SecurityLine("MQTT", f"{login}, password sent without encryption", False))
        else:
            lines.append(SecurityLine("MQTT", 'security "none": no login, no encryption', False))
        if q.password_file is not None and readable_by_others(q.password_file):
            lines.append(SecurityLine("MQTT", f"warning: {q.password_file} can be read by other accounts", False))
    return lines
