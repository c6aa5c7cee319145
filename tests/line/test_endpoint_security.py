"""Security of the PLC and MQTT endpoints, configured in the station config, tried for real on 127.0.0.1: OPC UA
with Basic256Sha256 SignAndEncrypt and station users, Modbus bound to an interface with an allow-list of clients,
MQTT with a broker login and TLS (amqtt). Each endpoint runs open only where the config says security = "none"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from certs import make_certificate

from db.guarded import GuardedDatabase
from line.config import ConfigError, parse_config, security_lines
from line.endpoint_security import OpcUaSecurity, client_allowed, parse_allow
from line.plc.opcua_security import OpcUaSecuritySettings, station_user_check
from line.plc.opcua_server import NAMESPACE, OBJECT, OpcUaServer
from tests.station_fakes import free_port, wait_until

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("fast_hashes")]
BASE = '[station]\nproduct = "w"\n[camera]\nsource = "demo"\n'
SERVER_URI = "urn:inspection-station:test-server"


def problems(text: str, folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + text, str(folder / "station.toml"))
    return [p.message for p in err.value.problems]


# -- the config ------------------------------------------------------------------------------------------------


def test_each_endpoint_must_say_how_it_is_secured(tmp_path: Path) -> None:
    found = problems('[opcua]\n[modbus]\n[mqtt]\ntopic = "t"\n', tmp_path)
    assert any(p.startswith("[opcua] security is missing") and '"none"' in p for p in found)
    assert any(p.startswith("[modbus] security is missing: Modbus TCP has no security") for p in found)
    assert any(p.startswith("[mqtt] security is missing") for p in found)
    found = problems('[opcua]\nsecurity = "basic128"\n[modbus]\nsecurity = "tls"\n', tmp_path)
    assert any("[opcua] security = 'basic128'" in p for p in found)
    assert any("[modbus] security = 'tls': Modbus TCP has no security of its own" in p for p in found)


def test_what_security_needs_is_checked(tmp_path: Path) -> None:
    found = problems('[opcua]\nsecurity = "sign-and-encrypt"\n', tmp_path)
    assert any("needs certificate" in p for p in found) and any("needs private_key" in p for p in found)
    found = problems('[opcua]\nsecurity = "sign"\ncertificate = "no.der"\nprivate_key = "no.pem"\n', tmp_path)
    assert any("[opcua] certificate: no.der does not exist" in p for p in found)
    found = problems('[mqtt]\ntopic = "t"\nsecurity = "password"\nusername = "u"\n', tmp_path)
    assert any('security = "password" needs username and password_file' in p for p in found)
    found = problems('[mqtt]\ntopic = "t"\nsecurity = "none"\nusername = "u"\npassword_file = "p"\n', tmp_path)
    assert any('security = "none" with a username' in p for p in found)
    found = problems('[mqtt]\ntopic = "t"\nsecurity = "tls"\ncert = "c.pem"\n', tmp_path)
    assert any("give cert and key together" in p for p in found)
    found = problems('[modbus]\nsecurity = "none"\nallow = ["10.0.0.1", "plc.local", 7]\n', tmp_path)
    assert sum(p.startswith("[modbus] allow:") for p in found) == 2


def test_a_secured_config_parses_and_check_says_how_each_endpoint_runs(tmp_path: Path) -> None:
    der, pem, key = make_certificate(tmp_path / "certs", "station", SERVER_URI)
    (tmp_path / "mqtt-password").write_text("s3cret\n")
    (tmp_path / "mqtt-password").chmod(0o600)
    text = (
        BASE + f'[opcua]\nsecurity = "sign-and-encrypt"\ncertificate = "certs/{der.name}"\n'
        f'private_key = "certs/{key.name}"\n'
        '[modbus]\nhost = "127.0.0.1"\nsecurity = "none"\nallow = ["127.0.0.1", "10.0.0.0/24"]\n'
        f'[mqtt]\ntopic = "t"\nsecurity = "tls"\nusername = "station"\npassword_file = "mqtt-password"\n'
        f'ca = "certs/{pem.name}"\n'
    )
    cfg = parse_config(text, str(tmp_path / "station.toml"))
    assert cfg.opcua is not None and cfg.opcua.security is OpcUaSecurity.SIGN_AND_ENCRYPT
    assert cfg.opcua.certificate == tmp_path / "certs" / der.name
    assert cfg.modbus is not None and [str(n) for n in cfg.modbus.allow] == ["127.0.0.1/32", "10.0.0.0/24"]
    assert cfg.mqtt is not None and cfg.mqtt.ca == tmp_path / "certs" / pem.name
    lines = {line.endpoint: line for line in security_lines(cfg)}
    assert lines["OPC UA"].secured and "SignAndEncrypt" in lines["OPC UA"].text
    assert not lines["Modbus"].secured and "127.0.0.1/32, 10.0.0.0/24" in lines["Modbus"].text
    assert lines["MQTT"].secured and "TLS" in lines["MQTT"].text and "user station" in lines["MQTT"].text
    plain = parse_config(BASE + '[opcua]\nsecurity = "none"\n')
    assert [(line.endpoint, line.secured) for line in security_lines(plain)] == [("OPC UA", False)]


def test_the_allow_list() -> None:
    allow, bad = parse_allow(["192.168.10.20", "10.0.0.0/24", "::1"])
    assert not bad
    assert client_allowed("192.168.10.20", allow) and client_allowed("10.0.0.77", allow)
    assert client_allowed("::ffff:10.0.0.5", allow) and client_allowed("::1", allow)
    assert not client_allowed("192.168.10.21", allow) and not client_allowed(None, allow)
    assert not client_allowed("not-an-address", allow) and client_allowed("1.2.3.4", ())


# -- OPC UA ----------------------------------------------------------------------------------------------------


@pytest.fixture
def secured_opcua(make_line, database, tmp_path: Path):
    guarded = GuardedDatabase(database)
    admin = guarded.users.add(None, "root", "admin", "admin-password")
    guarded.users.add(admin, "plc", "line", "plc-password")
    guarded.users.add(admin, "anna", "operator", "operator-password")
    der, _pem, key = make_certificate(tmp_path / "server", "server", SERVER_URI)
    rig = make_line().start()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
    server = OpcUaServer(
        rig.controller,
        endpoint,
        security=OpcUaSecuritySettings(OpcUaSecurity.SIGN_AND_ENCRYPT, der, key),
        users=station_user_check(guarded.users),
    )
    server.start()
    client_cert = make_certificate(tmp_path / "client", "client", "urn:test:plc")
    yield endpoint, client_cert, guarded
    server.stop()


async def _session(
    endpoint: str,
    cert: tuple[Path, Path, Path] | None,
    user: str | None,
    password: str | None,
    mode: str = "SignAndEncrypt",
):
    """Connect, read State and write PartId; returns what was read, or raises what the server answered."""
    from asyncua import Client, ua

    client = Client(endpoint, timeout=5)
    client.application_uri = "urn:test:plc"
    if cert is not None:
        await client.set_security_string(f"Basic256Sha256,{mode},{cert[0]},{cert[2]}")
    if user is not None:
        client.set_user(user)
        client.set_password(password or "")
    async with client:
        idx = await client.get_namespace_index(NAMESPACE)
        state = await client.get_node(f"ns={idx};s={OBJECT}.State").read_value()
        node = client.get_node(f"ns={idx};s={OBJECT}.PartId")
        await node.write_value(ua.DataValue(ua.Variant("P-42", ua.VariantType.String)))
        return state, await node.read_value()


def test_opcua_with_security_refuses_clients_without_credentials_and_serves_a_plc_user(secured_opcua) -> None:
    endpoint, cert, guarded = secured_opcua
    refused = [
        ("no security at all", None, None, None),
        ("encrypted, but no login", cert, None, None),
        ("a wrong password", cert, "plc", "guess"),
        ("a person, not a PLC (role operator)", cert, "anna", "operator-password"),
        ("an unknown name", cert, "mallory", "plc-password"),
    ]
    for what, c, user, password in refused:
        with pytest.raises(Exception) as err:  # asyncua raises UaError / BadIdentityTokenRejected / BadUserAccessDenied
            asyncio.run(_session(endpoint, c, user, password))
        assert "Bad" in type(err.value).__name__ or "endpoint" in str(err.value).lower(), (what, err.value)
    state, part_id = asyncio.run(_session(endpoint, cert, "plc", "plc-password"))
    assert state == 1 and part_id == "P-42"  # Ready; the PLC's write went through
    logins = [(e.action, e.actor, (e.after or {}).get("via")) for e in guarded.audit.list(newest_first=False)]
    assert ("login", "plc", "opcua") in logins
    assert ("login_failed", "plc", "opcua") in logins and ("login_failed", "mallory", "opcua") in logins
    assert guarded.audit.verify() is None


def test_opcua_sign_only_offers_sign_and_serves_a_plc_user(make_line, database, tmp_path: Path) -> None:
    guarded = GuardedDatabase(database)
    admin = guarded.users.add(None, "root", "admin", "admin-password")
    guarded.users.add(admin, "plc", "line", "plc-password")
    der, _pem, key = make_certificate(tmp_path / "server", "server", SERVER_URI)
    rig = make_line().start()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
    server = OpcUaServer(
        rig.controller,
        endpoint,
        security=OpcUaSecuritySettings(OpcUaSecurity.SIGN, der, key),
        users=station_user_check(guarded.users),
    )
    server.start()
    cert = make_certificate(tmp_path / "client", "client", "urn:test:plc")
    try:
        assert asyncio.run(_session(endpoint, cert, "plc", "plc-password", mode="Sign")) == (1, "P-42")
        with pytest.raises(Exception):  # noqa: B017 - asyncua: no endpoint with SignAndEncrypt
            asyncio.run(_session(endpoint, cert, "plc", "plc-password", mode="SignAndEncrypt"))
        with pytest.raises(Exception):  # noqa: B017 - and none without security
            asyncio.run(_session(endpoint, None, "plc", "plc-password"))
    finally:
        server.stop()


def test_opcua_security_needs_a_login_check(make_line, tmp_path: Path) -> None:
    der, _pem, key = make_certificate(tmp_path, "server", SERVER_URI)
    rig = make_line().start()
    with pytest.raises(ValueError, match="names and passwords"):
        OpcUaServer(
            rig.controller, "opc.tcp://127.0.0.1:4999/x/", security=OpcUaSecuritySettings(OpcUaSecurity.SIGN, der, key)
        )


# -- Modbus ----------------------------------------------------------------------------------------------------


def _modbus_read(port: int) -> list[int] | None:
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        if not client.connect():
            return None
        reply = client.read_input_registers(0, count=2)
        return None if reply.isError() else list(reply.registers)
    except Exception:  # noqa: BLE001 - the server closed the connection: no reply
        return None
    finally:
        client.close()


def test_modbus_serves_only_the_clients_on_its_allow_list(make_line) -> None:
    from line.plc.modbus_server import ModbusServer

    rig = make_line().start()
    for allow, served in ((["10.255.255.1"], False), (["127.0.0.0/8"], True)):
        port = free_port()
        server = ModbusServer(rig.controller, "127.0.0.1", port, allow=parse_allow(allow)[0])
        server.start()
        try:
            got = _modbus_read(port)
            assert (got is not None) is served, (allow, got)
        finally:
            server.stop()


# -- MQTT ------------------------------------------------------------------------------------------------------


def test_mqtt_with_a_broker_login_and_tls(make_line, database, tmp_path: Path) -> None:
    pytest.importorskip("amqtt", reason="amqtt (the tests' MQTT broker) is not installed")
    from mqtt_broker import LocalBroker

    from line.mqtt.publisher import MqttPublisher, MqttTls

    _der, pem, key = make_certificate(tmp_path / "broker", "broker", "urn:test:broker")
    passwords = tmp_path / "broker-passwords"
    passwords.write_text(f"station:{PasswordHasher().hash('s3cret')}\n")
    broker = LocalBroker(password_file=passwords, certfile=pem, keyfile=key).start()
    rig = make_line(topic="plant/secure").start()
    attempts = {
        "wrong password": dict(username="station", password="guess", tls=MqttTls(ca=pem)),
        "no login": dict(tls=MqttTls(ca=pem)),
        "right login": dict(username="station", password="s3cret", tls=MqttTls(ca=pem)),
    }
    publishers = {}
    try:
        for what, kw in attempts.items():
            pub = MqttPublisher(database.outbox, "127.0.0.1", broker.port, "plant/secure", status=rig.status, **kw)
            pub.start()
            publishers[what] = pub
        wait_until(publishers["right login"].connected.is_set, 15, "the connection with the right login")
        wait_until(lambda: publishers["wrong password"].last_error is not None, 15, "the broker's refusal")
        assert "refused" in (publishers["wrong password"].last_error or "")
        assert not publishers["wrong password"].connected.is_set() and not publishers["no login"].connected.is_set()
        assert rig.controller.trigger("S1") is None
        wait_until(lambda: rig.status.result_ready, 10, "the result")
        wait_until(lambda: database.outbox.count_pending() == 0, 15, "the result sent over TLS")
    finally:
        for pub in publishers.values():
            pub.stop(timeout_s=1.0)
        broker.stop()


def test_line_check_prints_how_each_endpoint_runs(tmp_path: Path, database, product, capsys) -> None:
    from line.cli.line_cmd import main as line_main

    der, _pem, key = make_certificate(tmp_path / "certs", "station", SERVER_URI)
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "widget"\n[camera]\nsource = "demo"\n'
        f'[opcua]\nsecurity = "sign"\ncertificate = "{der}"\nprivate_key = "{key}"\n'
        '[modbus]\nsecurity = "none"\n[mqtt]\ntopic = "t"\nsecurity = "none"\n'
    )
    assert line_main(["--config", str(config), "--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  OPC UA: Basic256Sha256 Sign,") and "[not secured]" not in line for line in out)
    assert any(line.startswith("  Modbus: no security") and line.endswith("[not secured]") for line in out)
    assert any(line.startswith('  MQTT: security "none"') and line.endswith("[not secured]") for line in out)
