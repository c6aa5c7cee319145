"""The Modbus TCP server against pymodbus's own client as the PLC, on 127.0.0.1: the register map, the handshake,
refusals with their codes, recipes, a port already taken; docs/plc.md prints the same register map."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from db.records import HistoryFilter
from line.events import ErrorCode, StationState
from line.plc.modbus_map import markdown_table, registers_to_text, text_to_registers
from line.plc.modbus_server import ModbusServer
from line.plc.server_thread import PlcServerError
from tests.station_fakes import FakeInspector, free_port

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


class ModbusPlc:
    def __init__(self, port: int) -> None:
        from pymodbus.client import ModbusTcpClient

        self.client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
        assert self.client.connect()

    def flags(self) -> dict[str, bool]:
        bits = self.client.read_discrete_inputs(0, count=6).bits[:6]
        return dict(zip(("Ready", "Busy", "ResultReady", "ResultOK", "ResultNG", "Error"), bits, strict=False))

    def inputs(self) -> dict:
        r = self.client.read_input_registers(0, count=60).registers
        return {
            "State": r[0],
            "ErrorCode": r[1],
            "Probability": r[2] / 10000,
            "CountTotal": (r[3] << 16) | r[4],
            "CountOK": (r[5] << 16) | r[6],
            "CountNG": (r[7] << 16) | r[8],
            "InspectionId": (r[9] << 16) | r[10],
            "RecipeId": r[11],
            "ResultPartId": registers_to_text(r[12:28]),
            "ErrorText": registers_to_text(r[28:60]),
        }

    def trigger(self, part_id: str) -> None:
        assert not self.client.write_registers(0, text_to_registers(part_id, 16)).isError()
        assert not self.client.write_coil(0, True).isError()

    def ack(self) -> None:
        assert not self.client.write_coil(1, True).isError()

    def wait(self, flag: str, value: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.flags()[flag] == value:
                return
            time.sleep(0.005)
        raise AssertionError(f"{flag} did not become {value} within {timeout} s")

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def modbus_line(make_line):
    made = []

    def make(**kw):
        rig = make_line(**kw).start()
        server = ModbusServer(rig.controller, "127.0.0.1", free_port())
        server.start()
        plc = ModbusPlc(server.port)
        made.append((server, plc))
        return rig, plc

    yield make
    for server, plc in made:
        plc.close()
        server.stop()


def test_the_plc_triggers_reads_the_recorded_result_and_acknowledges(modbus_line, database):
    _rig, plc = modbus_line()
    assert plc.flags()["Ready"] and plc.inputs()["State"] == StationState.READY
    plc.trigger("MB-0001")
    assert plc.client.read_coils(0, count=2).bits[:2] == [False, False]  # the trigger was taken
    plc.wait("ResultReady", True)
    assert database.history.query(HistoryFilter(limit=None)).total == 1
    flags, regs = plc.flags(), plc.inputs()
    assert flags["ResultOK"] != flags["ResultNG"] and not flags["Ready"]
    assert regs["ResultPartId"] == "MB-0001" and regs["CountTotal"] == 1 and regs["State"] == StationState.RESULT_READY
    record = database.inspections.get(regs["InspectionId"])
    assert record.part_id == "MB-0001" and (record.verdict == "PASS") == flags["ResultOK"]
    assert abs(regs["Probability"] - record.probability) < 1e-4
    plc.ack()
    plc.wait("Ready", True)
    assert not plc.flags()["ResultReady"] and plc.inputs()["ResultPartId"] == "MB-0001"


def test_refusals_and_recipes_reach_the_plc_as_codes(modbus_line, database):
    rig, plc = modbus_line(inspector=FakeInspector(inspect_delay_s=0.4))
    plc.trigger("A")
    plc.wait("Busy", True)
    plc.trigger("B")
    regs = plc.inputs()
    assert regs["ErrorCode"] == ErrorCode.BUSY and "still being inspected" in regs["ErrorText"]
    plc.wait("ResultReady", True)
    plc.trigger("C")
    assert plc.inputs()["ErrorCode"] == ErrorCode.RESULT_NOT_ACKNOWLEDGED
    assert not plc.client.write_register(16, 999).isError()
    regs = plc.inputs()
    assert regs["ErrorCode"] == ErrorCode.UNKNOWN_RECIPE and regs["RecipeId"] == rig.status.product_id
    assert plc.client.read_holding_registers(16, count=1).registers == [rig.status.product_id]
    plc.ack()
    plc.wait("Ready", True)
    assert plc.client.read_input_registers(100, count=1).isError()  # outside the map: an exception response


def test_a_port_already_taken_is_a_clear_error(make_line):
    rig = make_line().start()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(PlcServerError, match=f"{port}.*already in use"):
            ModbusServer(rig.controller, "127.0.0.1", port).start()
    finally:
        blocker.close()


def test_docs_print_the_register_map():
    assert markdown_table() in (ROOT / "docs" / "plc.md").read_text(encoding="utf-8")


def test_docs_list_every_error_code_and_state():
    text = (ROOT / "docs" / "plc.md").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"| {int(code)} | {code.name} |" in text, code
    for state in StationState:
        assert f"| {int(state)} | {state.name.title().replace('_', '')} |" in text, state
