"""Security of the station's network endpoints, as the station config sets it (docs/plc.md, "Security").

Every endpoint section must say how it is secured; nothing runs open unless the config says ``security = "none"``:

    [opcua]
    security = "sign-and-encrypt"          # or "sign"; Basic256Sha256. "none": no security (isolated cell only)
    certificate = "certs/station.der"      # the server's certificate (DER or PEM) and private key (PEM)
    private_key = "certs/station-key.pem"
                                           # clients log in with the name and password of a station user whose
                                           # role is "line" (main.py users add plc --role line --password-stdin)
    [modbus]
    security = "none"                      # the only value: Modbus TCP has no security. Isolated network only.
    host = "192.168.10.2"                  # bind to the interface of the cell network, never 0.0.0.0
    allow = ["192.168.10.20"]              # only these client addresses (or networks, "192.168.10.0/28") may connect

    [mqtt]
    security = "tls"                       # "tls", "password" (name and password over plain TCP), or "none"
    username = "station-1"
    password_file = "secrets/mqtt-password"   # one line; keep it readable by the station's account only
    ca = "certs/broker-ca.pem"             # the broker's CA (tls; default: the system's CAs)
    cert = "certs/station-mqtt.pem"        # a client certificate, if the broker asks for one (tls)
    key = "certs/station-mqtt-key.pem"

Relative paths are taken from the config file's folder.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class OpcUaSecurity(str, Enum):
    NONE = "none"
    SIGN = "sign"
    SIGN_AND_ENCRYPT = "sign-and-encrypt"


class MqttSecurity(str, Enum):
    NONE = "none"
    PASSWORD = "password"
    TLS = "tls"


class ModbusSecurity(str, Enum):
    NONE = "none"  # Modbus TCP has no security of its own


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(values: list[object]) -> tuple[tuple[IpNetwork, ...], list[str]]:
    """(the networks, the problems) of an allow-list of client addresses or networks."""
    networks: list[IpNetwork] = []
    problems: list[str] = []
    for value in values:
        if not isinstance(value, str):
            problems.append(f"{value!r} is not an address in quotes")
            continue
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            problems.append(f'{value!r} is not an IP address or network (e.g. "192.168.10.20", "10.0.0.0/24")')
    return tuple(networks), problems


def client_allowed(host: str | None, allow: tuple[IpNetwork, ...]) -> bool:
    """True when ``allow`` is empty (no list: every client) or ``host`` lies in one of its networks."""
    if not allow:
        return True
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return any(address in network for network in allow)


def read_secret(path: Path) -> str:
    """The first line of a secret file (a password), without its line end. OSError / ValueError when unusable."""
    text = path.read_text(encoding="utf-8")
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise ValueError(f"{path} is empty")
    return secret


def readable_by_others(path: Path) -> bool:
    """True when a secret file can be read by the group or by everybody (POSIX permissions)."""
    if os.name != "posix":
        return False
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


@dataclass(frozen=True)
class SecurityLine:
    """One line of ``main.py line --check``: an endpoint and how it is secured."""

    endpoint: str
    text: str
    secured: bool


__all__ = [
    "IpNetwork",
    "ModbusSecurity",
    "MqttSecurity",
    "OpcUaSecurity",
    "SecurityLine",
    "client_allowed",
    "parse_allow",
    "read_secret",
    "readable_by_others",
]
