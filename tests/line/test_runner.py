"""The headless runner from one station.toml: OPC UA, Modbus and MQTT together on 127.0.0.1 with a technical user,
a port already taken stops the start with a clear message and nothing left running, and `main.py line` stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mqtt_broker import LocalBroker, Subscriber
from test_modbus import ModbusPlc
from test_opcua import Plc, _with_plc

from db.guarded import GuardedDatabase
from db.records import HistoryFilter
from line.config import parse_config
from line.events import StationState
from line.plc.server_thread import PlcServerError
from line.runner import LineRunner, RunnerError
from tests.station_fakes import FakeInspector, free_port, wait_until, write_parts

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def _config(
    tmp_path: Path,
    *,
    opcua: int | None = None,
    modbus: int | None = None,
    mqtt: int | None = None,
    user: str | None = None,
    product: str = "widget",
    source: str | None = None,
) -> str:
    camera = source or f"folder:{write_parts(tmp_path / 'camera')}"
    text = f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "{product}"\nname = "cell-7"\n'
    if user:
        text += f'user = "{user}"\n'
    text += f'[camera]\nsource = "{camera}"\ntrigger = "software"\n'
    if opcua:
        text += f'[opcua]\nendpoint = "opc.tcp://127.0.0.1:{opcua}/inspection/"\nsecurity = "none"\n'
    if modbus:
        text += f'[modbus]\nport = {modbus}\nsecurity = "none"\n'
    if mqtt:
        text += f'[mqtt]\nport = {mqtt}\ntopic = "plant/cell7"\nsecurity = "none"\n'
    return text


def _line_user(database) -> str:
    guarded = GuardedDatabase(database)
    admin = guarded.users.add(None, "boss", "admin", "correct horse battery")
    guarded.users.add(admin, "cell7-runner", "line", "technical user secret")
    return "cell7-runner"


def test_opcua_modbus_and_mqtt_together_record_as_the_technical_user(tmp_path, database, product):
    user = _line_user(database)
    broker = LocalBroker().start()
    opcua_port, modbus_port = free_port(), free_port()
    cfg = parse_config(_config(tmp_path, opcua=opcua_port, modbus=modbus_port, mqtt=broker.port, user=user))
    runner = LineRunner(cfg, inspector_factory=FakeInspector)
    sub = Subscriber(broker.port)
    try:
        runner.start()
        wait_until(lambda: runner.status.state is StationState.READY, 10, "Ready")

        async def over_opcua(p: Plc):
            await p.trigger("UA-1")
            await p.wait("ResultReady", True)
            await p.write("ResultAck", True, "Boolean")
            await p.wait("Ready", True)

        asyncio.run(_with_plc(cfg.opcua.endpoint, over_opcua))
        plc = ModbusPlc(modbus_port)
        plc.trigger("MB-1")
        plc.wait("ResultReady", True)
        plc.ack()
        plc.wait("Ready", True)
        plc.close()
        wait_until(lambda: len(sub.on("plant/cell7")) == 2, 10, "both results on MQTT")
    finally:
        runner.stop()
        sub.close()
        broker.stop()
    records = database.history.query(HistoryFilter(limit=None)).records
    assert sorted(r.part_id for r in records) == ["MB-1", "UA-1"]
    assert {r.operator for r in records} == {user} and {r.station for r in records} == {"cell-7"}
    assert [json.loads(p)["part_id"] for p, _ in sub.on("plant/cell7")] == ["UA-1", "MB-1"]


def test_a_port_already_taken_stops_the_start_and_leaves_nothing_running(tmp_path, database, product):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    before = {t.ident for t in threading.enumerate()}
    try:
        runner = LineRunner(parse_config(_config(tmp_path, opcua=free_port(), modbus=taken)), FakeInspector)
        with pytest.raises(PlcServerError, match=f"{taken}.*already in use"):
            runner.start()
    finally:
        blocker.close()
    time.sleep(0.3)
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before


def test_a_technical_user_that_is_not_a_line_user_is_refused(tmp_path, database, product):
    guarded = GuardedDatabase(database)
    guarded.users.add(None, "boss", "admin", "correct horse battery")
    runner = LineRunner(parse_config(_config(tmp_path, user="boss")), FakeInspector)
    with pytest.raises(RunnerError, match="role 'line'"):
        runner.start()
    runner = LineRunner(parse_config(_config(tmp_path, user="nobody")), FakeInspector)
    with pytest.raises(RunnerError, match="does not exist"):
        runner.start()


def test_main_line_runs_headless_and_stops_cleanly_on_sigterm(tmp_path, database, product):
    modbus_port = free_port()
    config = tmp_path / "station.toml"
    config.write_text(_config(tmp_path, modbus=modbus_port))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "line", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        log = tmp_path / "data" / "logs" / "line.log"
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file() and "line runner started" in log.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
        plc = ModbusPlc(modbus_port)
        state = plc.inputs()["State"]
        plc.close()
        assert state in (StationState.IDLE, StationState.READY, StationState.ERROR)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    text = log.read_text()
    assert "signal SIGTERM: stopping" in text and "line runner stopped cleanly" in text
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, line.runner, line.cli.line_cmd, line.plc.opcua_server, "
            "line.plc.modbus_server, line.mqtt.publisher; print('PySide6' in sys.modules)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "False", probe.stderr


def test_a_missing_camera_is_written_to_the_log_once_with_what_happened(tmp_path, database, product, caplog):
    """No window on a cabinet PC: the runner's log says why the station is in error, not only the PLC's code."""
    import logging

    caplog.set_level(logging.INFO, logger="line.runner")
    camera = tmp_path / "unplugged-camera"
    camera.mkdir()
    config = parse_config(_config(tmp_path, source=f"folder:{camera}"))  # there when the config was checked
    camera.rmdir()  # gone when the station starts
    runner = LineRunner(config, FakeInspector)
    runner.start()
    try:
        wait_until(lambda: "station fault CAMERA" in caplog.text, 10, "the camera fault in the log")
        time.sleep(1.0)  # the camera link keeps retrying; the same fault is not logged again
    finally:
        runner.stop()
    faults = [r for r in caplog.records if r.getMessage().startswith("station fault CAMERA")]
    assert len(faults) == 1 and faults[0].levelno == logging.WARNING
    assert "unplugged-camera" in faults[0].getMessage()
