"""The OPC UA server against asyncua's own client as the PLC, on 127.0.0.1: the handshake, the refusals with
their codes, recipes, and a port that is already taken."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from opcua_plc import Plc
from opcua_plc import with_plc as _with_plc  # the name test_runner and test_audit_at_start import from here

from db.records import HistoryFilter
from line.events import ErrorCode, StationState
from line.plc.opcua_server import OBJECT, OpcUaServer
from line.plc.server_thread import PlcServerError
from tests.station_fakes import FakeInspector, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def opcua_line(make_line):
    servers = []

    def make(**kw):
        rig = make_line(**kw).start()
        endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
        server = OpcUaServer(rig.controller, endpoint)
        server.start()
        servers.append(server)
        return rig, endpoint

    yield make
    for server in servers:
        server.stop()


def test_the_plc_triggers_reads_the_recorded_result_and_acknowledges(opcua_line, database):
    _rig, endpoint = opcua_line()

    async def plc(p: Plc):
        assert await p.read("Ready") is True and await p.read("State") == int(StationState.READY)
        browse = await p.client.nodes.objects.get_child([f"{p.idx}:{OBJECT}", f"{p.idx}:CountTotal"])
        assert await browse.read_value() == 0
        await p.trigger("P-100")
        await p.wait("ResultReady", True)
        row_count = database.history.query(HistoryFilter(limit=None)).total
        result = {
            n: await p.read(n)
            for n in (
                "ResultOK",
                "ResultNG",
                "Probability",
                "ResultPartId",
                "InspectionId",
                "Trigger",
                "Ready",
                "State",
                "CountTotal",
            )
        }
        await p.write("ResultAck", True, "Boolean")
        await p.wait("ResultReady", False)
        after = {n: await p.read(n) for n in ("Ready", "ResultAck", "ResultPartId", "State")}
        await p.trigger("P-101")
        await p.wait("ResultPartId", "P-101")
        await p.wait("ResultReady", True)
        return row_count, result, after

    row_count, result, after = asyncio.run(_with_plc(endpoint, plc))
    assert row_count == 1  # ResultReady came only once the row existed
    assert result["ResultPartId"] == "P-100" and result["ResultOK"] != result["ResultNG"]
    assert result["Trigger"] is False and result["Ready"] is False and result["State"] == int(StationState.RESULT_READY)
    assert result["CountTotal"] == 1
    record = database.inspections.get(result["InspectionId"])
    assert record.part_id == "P-100" and (record.verdict == "PASS") == result["ResultOK"]
    assert after == {"Ready": True, "ResultAck": False, "ResultPartId": "P-100", "State": int(StationState.READY)}


def test_refusals_reach_the_plc_as_error_codes(opcua_line, database):
    rig, endpoint = opcua_line(inspector=FakeInspector(inspect_delay_s=0.4))

    async def plc(p: Plc):
        codes = {}
        await p.trigger("A")
        await p.wait("Busy", True)
        await p.trigger("B")  # while busy
        codes["busy"] = (await p.read("ErrorCode"), await p.read("ErrorText"))
        await p.wait("ResultReady", True)
        await p.trigger("C")  # before the acknowledgement
        codes["no_ack"] = await p.read("ErrorCode")
        await p.write("RecipeId", 4242, "Int32")
        codes["recipe"] = (await p.read("ErrorCode"), await p.read("ErrorText"), await p.read("RecipeId"))
        await p.write("ResultAck", True, "Boolean")
        await p.wait("Ready", True)
        await p.trigger("D")
        await p.wait("ResultReady", True)
        codes["after"] = (await p.read("ErrorCode"), await p.read("ResultPartId"))
        return codes

    codes = asyncio.run(_with_plc(endpoint, plc))
    assert codes["busy"][0] == ErrorCode.BUSY and "still being inspected" in codes["busy"][1]
    assert codes["no_ack"] == ErrorCode.RESULT_NOT_ACKNOWLEDGED
    assert codes["recipe"][0] == ErrorCode.UNKNOWN_RECIPE and "4242" in codes["recipe"][1]
    assert codes["recipe"][2] == rig.status.product_id  # RecipeId shows the recipe in use
    assert codes["after"] == (ErrorCode.NONE, "D")
    assert sorted(r.part_id for r in database.history.query(HistoryFilter(limit=None)).records) == ["A", "D"]


def test_the_plc_switches_the_recipe(opcua_line, database):
    from tests.station_fakes import good_part

    other = database.products.create("bracket")
    database.references.add(other.id, [good_part(5)])
    _rig, endpoint = opcua_line()

    async def plc(p: Plc):
        await p.write("RecipeId", other.id, "Int32")
        await p.wait("RecipeId", other.id)
        await p.wait("Ready", True)
        await p.trigger("R1")
        await p.wait("ResultReady", True)
        return await p.read("InspectionId")

    inspection_id = asyncio.run(_with_plc(endpoint, plc))
    assert database.inspections.get(inspection_id).product_name == "bracket"


def test_a_trigger_before_any_product_is_ready_gets_not_ready(make_line):
    # the build outlasts the test (stop cancels it): a loaded machine cannot make the product ready in time
    rig = make_line(inspector=FakeInspector(build_delay_s=60.0)).start(ready=False)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
    server = OpcUaServer(rig.controller, endpoint)
    server.start()
    try:

        async def plc(p: Plc):
            await p.trigger("early")
            return await p.read("ErrorCode"), await p.read("Ready"), await p.read("State")

        code, ready, state = asyncio.run(_with_plc(endpoint, plc))
        assert code == ErrorCode.NOT_READY and ready is False and state == int(StationState.IDLE)
    finally:
        server.stop()


def test_a_port_already_taken_is_a_clear_error(make_line):
    rig = make_line().start()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        server = OpcUaServer(rig.controller, f"opc.tcp://127.0.0.1:{port}/inspection/")
        t0 = time.monotonic()
        with pytest.raises(PlcServerError, match=f"{port}.*already in use"):
            server.start()
        assert time.monotonic() - t0 < 20
    finally:
        blocker.close()


def test_a_polling_plc_reads_the_state_as_of_its_read(make_line, database):
    """A read writes a change not yet in the nodes first (as Modbus computes its registers at each read) instead of
    waiting for the server's loop to get to it. Here the loop's own refresh after an event never comes and the part
    is triggered from the station's side, so only the PLC's reads can bring the new count to it."""
    rig = make_line().start()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/inspection/"
    server = OpcUaServer(rig.controller, endpoint)
    server.start()
    server._loop.call_soon = lambda _callback: None  # events only mark the nodes out of date

    async def plc(p: Plc):
        assert await p.read("CountTotal") == 0
        assert rig.controller.trigger("LOCAL-1", self_ack=True) is None  # not through OPC UA: no write handler runs
        deadline = time.monotonic() + 10
        while database.history.query(HistoryFilter(limit=None)).total == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await p.wait("CountTotal", 1, timeout=2.0)
        return await p.read("ResultPartId")

    try:
        assert asyncio.run(_with_plc(endpoint, plc)) == "LOCAL-1"
    finally:
        server.stop()
