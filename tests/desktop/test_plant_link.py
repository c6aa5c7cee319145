"""The window on the line (desktop/controllers/plant_link.py): from one station.toml it hosts the OPC UA and Modbus
servers and the MQTT publisher as views of the controller it shows. A PLC (asyncua's and pymodbus's own clients)
triggers parts while the window is open, the window shows their verdicts, the MES gets them on a real broker
(amqtt); a port already taken and a broker that is down are in the window's problem list; closing the window stops
the servers and leaves no thread running."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "line"))

from mqtt_broker import LocalBroker, Subscriber
from opcua_plc import with_plc
from test_modbus import ModbusPlc

from db.records import HistoryFilter
from line.config import parse_config
from line.problems import Severity
from tests.station_fakes import FakeInspector, free_port

pytestmark = pytest.mark.timeout(120)
TOPIC = "plant/cell7"


def _config(data_dir: Path, *, opcua: int | None = None, modbus: int | None = None, mqtt: int | None = None):
    text = f'[station]\ndata_dir = "{data_dir}"\nproduct = "Demo disk"\nname = "cell-7"\nack_timeout_s = 30\n'
    text += '[camera]\nsource = "demo"\n'
    if opcua:
        text += f'[opcua]\nendpoint = "opc.tcp://127.0.0.1:{opcua}/inspection/"\nsecurity = "none"\n'
    if modbus:
        text += f'[modbus]\nport = {modbus}\nsecurity = "none"\n'
    if mqtt:
        text += f'[mqtt]\nport = {mqtt}\ntopic = "{TOPIC}"\nsecurity = "none"\n'
    return parse_config(text, str(data_dir / "station.toml"))


class PlantWindow:
    """A main window with its station and the plant link, wired as desktop/app.py wires them for --config."""

    def __init__(self, qtbot, database, data_dir: Path, config) -> None:
        from desktop.controllers.plant_link import PlantLink
        from desktop.controllers.station import Station
        from desktop.controllers.station_settings import StationSettings
        from desktop.main_window import MainWindow
        from desktop.workers.inference_worker import InferenceService
        from line.capture.demo_camera import DemoCamera
        from line.frame_files import FrameFiles
        from line.recorder import Recorder
        from line.runner import station_writer
        from line.unsaved_spool import UnsavedSpool

        self.window = MainWindow()
        qtbot.addWidget(self.window)
        self.inference = InferenceService(FakeInspector)
        frame_files = FrameFiles(database.store)
        self.recorder = Recorder(
            station_writer(config, database, frame_files), spool=UnsavedSpool(data_dir / "unsaved")
        )
        self.station = Station(
            self.window,
            database,
            self.inference,
            self.recorder,
            data_dir,
            StationSettings(path=data_dir / "settings.json"),
            source_factory=lambda spec: DemoCamera(fps=25.0),
            reconnect_backoff_s=0.05,
            frame_files=frame_files,
            ack_timeout_s=config.station.ack_timeout_s,
            after_trigger=True,
        )
        self.link = PlantLink(self.station, config, database)
        self.window.show()

    def start(self, qtbot, product_id: int) -> None:
        with qtbot.waitSignal(self.station.product_ready, timeout=15000):
            self.station.start("demo", product_id)
        self.link.start()


def _in_thread(qtbot, body, timeout_ms: int = 30000):
    """Run a PLC's script in a thread of its own while the window's event loop runs (its camera feed too)."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = body()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=timeout_ms)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_a_plc_triggers_parts_while_the_window_is_open_and_the_window_shows_their_verdicts(qtbot, database, tmp_path):
    from desktop.controllers.demo_setup import ensure_demo_product

    before = {t.ident for t in threading.enumerate()}
    product = ensure_demo_product(database)
    broker = LocalBroker().start()
    sub = Subscriber(broker.port, TOPIC)
    opcua_port, modbus_port = free_port(), free_port()
    config = _config(tmp_path / "data", opcua=opcua_port, modbus=modbus_port, mqtt=broker.port)
    plant = PlantWindow(qtbot, database, tmp_path / "data", config)
    try:
        plant.start(qtbot, product.id)
        assert plant.link.endpoints.opcua is not None and plant.link.endpoints.modbus is not None
        qtbot.waitUntil(lambda: plant.link.endpoints.mqtt.connected.is_set(), timeout=10000)

        async def over_opcua(plc):
            await plc.wait("Ready", True, timeout=10)
            await plc.trigger("UA-1")
            await plc.wait("ResultReady", True, timeout=10)
            seen = {name: await plc.read(name) for name in ("ResultOK", "ResultPartId", "InspectionId")}
            await plc.write("ResultAck", True, "Boolean")
            await plc.wait("Ready", True)
            return seen

        seen = _in_thread(qtbot, lambda: asyncio.run(with_plc(config.opcua.endpoint, over_opcua)))
        verdict = "PASS" if seen["ResultOK"] else "FAIL"
        assert seen["ResultPartId"] == "UA-1"
        qtbot.waitUntil(lambda: plant.station.last_record is not None, timeout=5000)
        assert plant.station.last_outcome.part_id == "UA-1"
        assert plant.window.verdict.verdict_text() == verdict  # the window shows the PLC's part
        assert plant.station.last_record.id == seen["InspectionId"]

        def over_modbus():
            plc = ModbusPlc(modbus_port)
            try:
                plc.trigger("MB-1")
                plc.wait("ResultReady", True, timeout=10)
                result = plc.inputs() | plc.flags()
                plc.ack()
                plc.wait("Ready", True)
                return result
            finally:
                plc.close()

        mb = _in_thread(qtbot, over_modbus)
        assert mb["ResultPartId"] == "MB-1"
        qtbot.waitUntil(lambda: plant.station.last_outcome.part_id == "MB-1", timeout=5000)
        qtbot.waitUntil(
            lambda: plant.window.verdict.verdict_text() == ("PASS" if mb["ResultOK"] else "FAIL"), timeout=5000
        )
        qtbot.waitUntil(lambda: len(sub.on(TOPIC)) == 2, timeout=10000)
        messages = [json.loads(p) for p, _ in sub.on(TOPIC)]
        assert [(m["part_id"], m["verdict"]) for m in messages] == [("UA-1", verdict), ("MB-1", messages[1]["verdict"])]
        assert messages[1]["inspection_id"] == mb["InspectionId"]
        assert plant.window.problem_keys() == [] or set(plant.window.problem_keys()).isdisjoint({"opcua", "modbus"})
    finally:
        plant.window.close()
        sub.close()
        broker.stop()
    rows = database.history.query(HistoryFilter(limit=None)).records
    assert sorted(r.part_id for r in rows) == ["MB-1", "UA-1"] and {r.station for r in rows} == {"cell-7"}
    # closing the window stopped the servers and every thread
    assert _refused(opcua_port) and _refused(modbus_port)
    assert plant.link.endpoints.opcua is None and plant.link.endpoints.mqtt is None
    assert not plant.inference.is_running and not plant.recorder.is_running
    assert [t.name for t in threading.enumerate() if t.is_alive() and t.ident not in before] == []


def test_a_port_taken_and_a_broker_down_are_in_the_problem_list_and_the_broker_back_clears_it(
    qtbot, database, tmp_path
):
    from desktop.controllers.demo_setup import ensure_demo_product

    product = ensure_demo_product(database)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    broker_port = free_port()  # nobody listens there yet
    config = _config(tmp_path / "data", modbus=taken, mqtt=broker_port)
    plant = PlantWindow(qtbot, database, tmp_path / "data", config)
    broker = LocalBroker(broker_port)
    try:
        plant.start(qtbot, product.id)
        problems = plant.window.problem_list
        qtbot.waitUntil(lambda: problems.get("modbus") is not None and problems.get("mqtt") is not None, timeout=10000)
        modbus, mqtt = problems.get("modbus"), problems.get("mqtt")
        assert f"{taken}" in modbus.text and "already in use" in modbus.text and "[modbus] port" in modbus.text
        assert modbus.severity is Severity.ERROR
        assert f"127.0.0.1:{broker_port} cannot be reached" in mqtt.text and "outbox" in mqtt.text
        assert mqtt.severity is Severity.WARNING
        assert plant.link.endpoints.modbus is None
        # the window works on: the operator's Inspect records a part (its message waits in the outbox)
        with qtbot.waitSignal(plant.station.inspection_recorded, timeout=10000):
            qtbot.waitUntil(lambda: plant.station.current_frame is not None, timeout=5000)
            plant.station.inspect_now()
        assert database.outbox.count_pending() == 1
        broker.start()
        qtbot.waitUntil(lambda: problems.get("mqtt") is None, timeout=20000)  # paho reconnects within 5 s
        qtbot.waitUntil(lambda: database.outbox.count_pending() == 0, timeout=10000)
        assert problems.get("modbus") is not None
    finally:
        plant.window.close()
        blocker.close()
        broker.stop()


def test_main_with_a_station_config_runs_the_window_serving_modbus(qtbot, monkeypatch, tmp_path):
    """`main.py --config station.toml` (here with --screenshot: unattended) opens the config's database, shows its
    camera and product, and serves Modbus while the window is open; once it closed, the port is free."""
    import time

    import core.inspector
    import main as entry
    from db.repository import Database

    monkeypatch.setattr(core.inspector, "Inspector", lambda **kw: FakeInspector())
    port = free_port()
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\ndata_dir = "data"\nproduct = "Demo disk"\nname = "cell-9"\n[camera]\nsource = "demo"\n'
        f'[modbus]\nport = {port}\nsecurity = "none"\n'
    )
    seen: list = []
    done = threading.Event()

    def plc() -> None:
        from pymodbus.client import ModbusTcpClient

        while not done.is_set() and not seen:
            client = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
            if client.connect():
                seen.append(client.read_input_registers(0, count=2).registers)
            client.close()
            time.sleep(0.05)

    thread = threading.Thread(target=plc, daemon=True)
    thread.start()
    try:
        rc = entry.main(["--config", str(config), "--screenshot", str(tmp_path / "shot.png"), "--frames", "3"])
    finally:
        done.set()
        thread.join(5)
    assert rc == 0 and seen, "the window did not serve Modbus while it was open"
    assert _refused(port)
    with Database.open(tmp_path / "data") as db:
        rows = db.history.query(HistoryFilter(limit=None)).records
    assert (
        len(rows) == 3 and {r.station for r in rows} == {"cell-9"} and {r.product_name for r in rows} == {"Demo disk"}
    )


def test_main_with_a_malformed_station_config_says_what_is_wrong_line_by_line(qtbot, tmp_path, capsys):
    import main as entry

    config = tmp_path / "station.toml"
    config.write_text('[station]\nproduct = "widget"\ncolour = "blue"\n[camera]\nsource = "demo"\n[modbus]\nport = 0\n')
    rc = entry.main(["--config", str(config), "--screenshot", str(tmp_path / "shot.png")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{config}:3:" in err and "colour" in err  # an unknown key, with its line
    assert f"{config}:7:" in err and "port" in err  # a port out of range
    assert not (tmp_path / "shot.png").exists()
