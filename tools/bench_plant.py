"""Plant integration benchmark (docs/benchmarks-plant.md): N parts triggered by a simulated PLC over OPC UA and N
over Modbus, images from pylon's emulated camera (PYLON_CAMEMU) serving the demo camera's images, the real
inspector, the real database and a real MQTT broker (amqtt) on 127.0.0.1; the broker is stopped for a while mid-run.

    .venv/bin/python tools/bench_plant.py --parts 200 --broker-down-s 30 [--source folder] [--json out/plant.json]

Reports lost / duplicated / mismatched results between the PLC's view, the database and the MQTT messages,
trigger-to-ResultReady p50/p99 (PLC side) against the inference p50, and whether every result sent after the broker
came back arrived, in order. ``--source folder`` uses a folder source instead of the emulated camera.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("PYLON_CAMEMU", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "line"))

import numpy as np  # noqa: E402

from line.demo_assets import DEMO_CAMERA_DIR, DEMO_PRODUCT_NAME, demo_reference_paths  # noqa: E402
from line.events import PartInspected, PartRecorded, StationState  # noqa: E402


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MES_CLIENT_ID = "bench-mes"


class Collector:
    """MQTT messages as a plant's MES would receive them (reconnecting when the broker comes back).

    The test broker keeps nothing across a restart (amqtt in memory), so it admits only this client after each
    start until it has subscribed again (``LocalBroker(admit_first=...)``): what a persistent broker and a
    persistent session give a plant. Without that, the station could reconnect and publish before this subscriber
    had subscribed again, and the broker would acknowledge and drop those messages (run G: 4 lost)."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.topic = topic
        self.messages: list[dict] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=MES_CLIENT_ID)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_disconnect = lambda *_: self.subscribed.clear()
        self.client.on_message = self._on
        self.client.reconnect_delay_set(1, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties=None) -> None:
        if not getattr(reason_code, "is_failure", False):
            client.subscribe(self.topic, qos=1)

    def _on(self, _c, _u, m) -> None:
        with self._lock:
            self.messages.append(json.loads(m.payload))

    def part_ids(self) -> set[str]:
        with self._lock:
            return {m["part_id"] for m in self.messages}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def opcua_plc(endpoint: str, ids: list[str], poll_s: float = 0.002, timeout: float = 10.0) -> list[dict]:
    from asyncua import Client, ua

    from line.plc.opcua_server import NAMESPACE, OBJECT

    views = []
    async with Client(endpoint, timeout=10) as client:
        idx = await client.get_namespace_index(NAMESPACE)
        node = {
            n: client.get_node(f"ns={idx};s={OBJECT}.{n}")
            for n in (
                "PartId",
                "Trigger",
                "ResultReady",
                "ResultAck",
                "ResultPartId",
                "ResultOK",
                "InspectionId",
                "ErrorCode",
                "Ready",
            )
        }

        async def wait(name, value):
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout:
                if await node[name].read_value() == value:
                    return True
                await asyncio.sleep(poll_s)
            return False

        for part in ids:
            await wait("Ready", True)
            await node["PartId"].write_value(ua.DataValue(ua.Variant(part, ua.VariantType.String)))
            t0 = time.perf_counter()
            await node["Trigger"].write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            t_written = time.perf_counter()
            ok = await wait("ResultReady", True)
            t_seen = time.perf_counter()
            dt = (t_seen - t0) * 1000
            view = {"sent": part, "ready": ok, "ms": dt, "error": await node["ErrorCode"].read_value()}
            view.update(t_write=t0, t_written=t_written, t_seen=t_seen)  # perf_counter: one clock for all processes
            if ok:
                view.update(
                    part_id=await node["ResultPartId"].read_value(),
                    ok=await node["ResultOK"].read_value(),
                    inspection_id=await node["InspectionId"].read_value(),
                )
                await node["ResultAck"].write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            views.append(view)
    return views


def plc_process(protocol: str, address, ids: list[str], poll_s: float, out) -> None:
    """The simulated PLC, in a process of its own (a real PLC is another machine: it must not share the station's
    interpreter lock)."""
    if protocol == "opcua":
        out.put(asyncio.run(opcua_plc(address, ids, poll_s=poll_s)))
    else:
        out.put(modbus_plc(address, ids, poll_s=poll_s))


def run_plc(protocol: str, address, ids: list[str], poll_s: float) -> list[dict]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=plc_process, args=(protocol, address, ids, poll_s, out), daemon=True)
    proc.start()
    views = out.get(timeout=3600)
    proc.join(30)
    return views


def modbus_plc(port: int, ids: list[str], poll_s: float = 0.002, timeout: float = 10.0) -> list[dict]:
    from pymodbus.client import ModbusTcpClient

    from line.plc.modbus_map import registers_to_text, text_to_registers

    client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
    client.connect()
    views = []

    def wait(bit: int, value: bool) -> bool:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if client.read_discrete_inputs(0, count=6).bits[bit] == value:
                return True
            time.sleep(poll_s)
        return False

    for part in ids:
        wait(0, True)
        client.write_registers(0, text_to_registers(part, 16))
        t0 = time.perf_counter()
        client.write_coil(0, True)
        ok = wait(2, True)
        dt = (time.perf_counter() - t0) * 1000
        regs = client.read_input_registers(0, count=28).registers
        bits = client.read_discrete_inputs(0, count=6).bits
        view = {"sent": part, "ready": ok, "ms": dt, "error": regs[1]}
        if ok:
            view.update(
                part_id=registers_to_text(regs[12:28]), ok=bool(bits[3]), inspection_id=(regs[9] << 16) | regs[10]
            )
            client.write_coil(1, True)
        views.append(view)
    client.close()
    return views


def per_part(views: list[dict], station: list[dict]) -> dict:
    """The same parts' figures side by side: the PLC's trigger-to-ResultReady, the model's inference, and the
    difference per part (what the handshake, the camera and the durable record add), robust to the load drifting."""
    by_part = {s["part_id"]: s for s in station}
    pairs = [(v["ms"], by_part[v["sent"]]["inference_ms"]) for v in views if v["ready"] and v["sent"] in by_part]
    plc, inf = [a for a, _ in pairs], [b for _, b in pairs]
    return {
        "parts": len(pairs),
        "trigger_to_ready_p50": pct(plc, 50),
        "trigger_to_ready_p99": pct(plc, 99),
        "inference_p50": pct(inf, 50),
        "inference_p99": pct(inf, 99),
        "added_per_part_p50": pct([a - b for a, b in pairs], 50),
        "added_per_part_p99": pct([a - b for a, b in pairs], 99),
        "record_p50": pct([by_part[v["sent"]]["record_ms"] for v in views if v["sent"] in by_part], 50),
        "added_breakdown_p50": breakdown(
            [by_part[v["sent"]] | {"plc_ms": v["ms"]} for v in views if v["sent"] in by_part]
        ),
    }


def timeline_marks() -> dict[str, dict[str, float]]:
    """perf_counter times, per part id, of the OPC UA handshake's steps inside the station (one clock with the PLC
    process's): the trigger accepted by the controller, the row recorded, ResultReady written by the server."""
    from line.controller import StationController
    from line.plc.opcua_server import OpcUaServer

    marks: dict[str, dict[str, float]] = {"accepted": {}, "recorded": {}, "ready_set": {}}
    trigger, set_node = StationController.trigger, OpcUaServer._set

    def timed_trigger(self, part_id=None, **kw):
        fault = trigger(self, part_id, **kw)
        if part_id:
            marks["accepted"].setdefault(str(part_id), time.perf_counter())
        return fault

    async def timed_set(self, name, value):
        await set_node(self, name, value)
        if name == "ResultReady" and value:
            marks["ready_set"].setdefault(str(self._written.get("ResultPartId")), time.perf_counter())

    StationController.trigger = timed_trigger
    OpcUaServer._set = timed_set
    return marks


def opcua_timeline(views: list[dict], marks: dict[str, dict[str, float]]) -> dict:
    """Where an OPC UA part's time outside the station's own trigger-to-record goes (p50, ms): the PLC's Trigger
    write until the controller accepted it, the record until the server wrote ResultReady, and that write until
    the PLC's poll saw it."""
    rows = []
    for v in views:
        part = v["sent"]
        if not v.get("ready") or not all(part in marks[k] for k in ("accepted", "recorded", "ready_set")):
            continue
        a, r, w = marks["accepted"][part], marks["recorded"][part], marks["ready_set"][part]
        rows.append((a - v["t_write"], r - a, w - r, v["t_seen"] - w, v["t_written"] - v["t_write"]))
    names = ("write_to_accepted", "accepted_to_recorded", "recorded_to_ready_set", "ready_set_to_seen", "write_call")
    return {"parts": len(rows), **{n: pct([row[i] * 1000 for row in rows], 50) for i, n in enumerate(names)}}


def breakdown(parts: list[dict]) -> dict:
    """Where the added time of a part goes, p50 of each share (ms): the camera's frame and the hand-over to the
    inference thread (trigger accepted -> frame), after the model (the heatmap and the outcome), the durable record
    (verdict -> committed row), and the PLC interface (the PLC's trigger write and its poll that saw ResultReady,
    beyond the station's own trigger-to-record)."""
    have = [p for p in parts if p.get("elapsed_ms") and p.get("frame_to_outcome_ms") is not None]
    return {
        "camera_and_handover": pct([p["elapsed_ms"] - p["frame_to_outcome_ms"] - p["record_ms"] for p in have], 50),
        "after_the_model": pct([p["frame_to_outcome_ms"] - p["inference_ms"] for p in have], 50),
        "record": pct([p["record_ms"] for p in have], 50),
        "plc_interface": pct([p["plc_ms"] - p["elapsed_ms"] for p in have], 50),
    }


def check(views: list[dict], rows: dict, messages: list[dict]) -> dict:
    sent = [v["sent"] for v in views]
    by_part: dict[str, list] = {}
    for r in rows.values():
        by_part.setdefault(r.part_id, []).append(r)
    lost = [p for p in sent if p not in by_part]
    duplicated = [p for p in sent if len(by_part.get(p, [])) > 1]
    mismatched = []
    for v in views:
        if not v["ready"]:
            mismatched.append((v["sent"], "no ResultReady"))
            continue
        row = rows.get(v["inspection_id"])
        if v["part_id"] != v["sent"] or row is None or row.part_id != v["sent"] or (row.verdict == "PASS") != v["ok"]:
            mismatched.append((v["sent"], "PLC view differs from the database"))
    mqtt_by_part: dict[str, list] = {}
    for m in messages:
        mqtt_by_part.setdefault(m["part_id"], []).append(m)
    mqtt_lost = [p for p in sent if p not in mqtt_by_part]
    mqtt_dup = [p for p in sent if len(mqtt_by_part.get(p, [])) > 1]
    mqtt_mismatch = [
        p
        for p in sent
        for m in mqtt_by_part.get(p, [])[:1]
        if by_part.get(p) and (m["verdict"] != by_part[p][0].verdict or m["inspection_id"] != by_part[p][0].id)
    ]
    return {
        "sent": len(sent),
        "db_lost": len(lost),
        "db_duplicated": len(duplicated),
        "plc_db_mismatched": len(mismatched),
        "mqtt_lost": len(mqtt_lost),
        "mqtt_duplicated": len(mqtt_dup),
        "mqtt_mismatched": len(mqtt_mismatch),
        "examples": {"lost": lost[:5], "mismatched": mismatched[:5], "mqtt_lost": mqtt_lost[:5]},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", type=int, default=200, help="parts per protocol")
    p.add_argument("--broker-down-s", type=float, default=30.0, help="how long the broker is stopped mid-run")
    p.add_argument("--source", choices=("pylon", "folder"), default="pylon")
    p.add_argument("--poll-s", type=float, default=0.002, help="the PLC simulator's polling period (a PLC scan)")
    p.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary folder")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="the interpreter's thread switch interval in the station's process (default: the station's own)",
    )
    args = p.parse_args()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000.0)

    import tempfile

    from mqtt_broker import LocalBroker

    from db.records import HistoryFilter
    from db.repository import Database
    from line.config import parse_config
    from line.runner import LineRunner

    data = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-plant-"))
    with Database.open(data) as database:
        if not any(pr.name == DEMO_PRODUCT_NAME for pr in database.products.list()):
            product = database.products.create(DEMO_PRODUCT_NAME)
            database.references.add(product.id, [str(x) for x in demo_reference_paths()])
            database.products.update_settings(product.id, {"camera": {"exposure_us": 1000.0}})  # the recipe
    broker = LocalBroker(admit_first=MES_CLIENT_ID).start()  # the MES subscribes first after each start
    opcua_port, modbus_port = free_port(), free_port()
    source = f"pylon:0815-0000?images={DEMO_CAMERA_DIR}" if args.source == "pylon" else f"folder:{DEMO_CAMERA_DIR}"
    topic = "bench/line/inspection"
    cfg = parse_config(f"""
[station]
data_dir = "{data}"
product = "{DEMO_PRODUCT_NAME}"
name = "bench"
[camera]
source = "{source}"
trigger = "software"
[opcua]
endpoint = "opc.tcp://127.0.0.1:{opcua_port}/inspection/"
security = "none"
[modbus]
port = {modbus_port}
security = "none"
[mqtt]
port = {broker.port}
topic = "{topic}"
security = "none"
""")
    marks = timeline_marks()
    runner = LineRunner(cfg)
    station: list[dict] = []
    load_before = os.getloadavg()
    t_start = time.monotonic()
    runner.start()
    inspected_at: dict[int, float] = {}
    runner.status.bus.subscribe(lambda e: inspected_at.__setitem__(e.seq, time.time()), PartInspected)
    runner.status.bus.subscribe(
        lambda e: station.append(
            {
                "part_id": e.part.part_id,
                "elapsed_ms": e.elapsed_ms,
                "inference_ms": float(e.outcome.result.timings_ms.get("total", float("nan"))),
                "frame_to_outcome_ms": float(e.outcome.latency_ms),  # the frame's time to the outcome (heatmap too)
                "record_ms": (e.at - inspected_at.get(e.part.seq, e.at)) * 1000.0,
            }
        ),
        PartRecorded,
    )
    runner.status.bus.subscribe(
        lambda e: marks["recorded"].setdefault(e.part.part_id, time.perf_counter()), PartRecorded
    )
    deadline = time.monotonic() + 600
    while runner.status.state is not StationState.READY and time.monotonic() < deadline:
        time.sleep(0.2)
    ready_s = time.monotonic() - t_start
    mes = Collector(broker.port, topic)
    if not mes.subscribed.wait(30.0):  # subscribed before the first trigger
        raise SystemExit("the MES subscriber did not subscribe within 30 s")
    n = args.parts
    ua_ids = [f"UA-{i:05d}" for i in range(n)]
    mb_ids = [f"MB-{i:05d}" for i in range(n)]
    t0 = time.monotonic()
    ua_views = run_plc("opcua", cfg.opcua.endpoint, ua_ids, args.poll_s)
    t_ua = time.monotonic() - t0
    outage = {"stopped_at_part": None, "restarted_at_part": None, "down_s": args.broker_down_s}
    stop_after = len(station) + n // 4  # the broker stops once a quarter of the Modbus parts are recorded
    done = threading.Event()

    def broker_control() -> None:
        try:
            outage_run()
        except Exception as exc:  # noqa: BLE001 - reported: the outage figures are then not valid
            outage["error"] = repr(exc)

    def outage_run() -> None:
        while not done.is_set() and len(station) < stop_after:
            time.sleep(0.01)
        # stop the broker between two parts: once the MES has every message recorded so far (a broker killed
        # between its PUBACK and forwarding a message loses that message, run F's MB-00049: not the station's)
        while not done.is_set() and not {s["part_id"] for s in station} <= mes.part_ids():
            time.sleep(0.001)
        if done.is_set():
            return
        broker.stop()  # waits until the port is free
        outage["stopped_at_part"] = station[-1]["part_id"]
        stopped = time.monotonic()
        while time.monotonic() - stopped < args.broker_down_s:
            time.sleep(0.05)
        pending = runner.database.outbox.count_pending()
        broker.start()
        outage["stopped_for_s"] = round(time.monotonic() - stopped, 1)
        outage["waiting_in_outbox_at_restart"] = pending
        outage["restarted_at_part"] = station[-1]["part_id"] + ("" if not done.is_set() else " (the last part)")
        restarted = time.monotonic()
        while runner.database.outbox.count_pending() and time.monotonic() - restarted < 120:
            time.sleep(0.05)
        outage["drained_s_after_restart"] = round(time.monotonic() - restarted, 2)

    control = threading.Thread(target=broker_control, daemon=True)
    control.start()
    t0 = time.monotonic()
    mb_views = run_plc("modbus", modbus_port, mb_ids, args.poll_s)
    t_mb = time.monotonic() - t0
    done.set()
    control.join(args.broker_down_s + 30)
    drain_t0 = time.monotonic()
    while runner.database.outbox.count_pending() and time.monotonic() - drain_t0 < 120:
        time.sleep(0.1)
    time.sleep(1.0)
    rows = {r.id: r for r in runner.database.history.query(HistoryFilter(limit=None)).records}
    messages = list(mes.messages)
    load_after = os.getloadavg()
    runner.stop()
    mes.close()
    broker.stop()

    order_ids = [m["inspection_id"] for m in messages]
    first_seen = list(dict.fromkeys(order_ids))
    in_order = first_seen == sorted(first_seen)
    down_start = mb_ids.index(outage["stopped_at_part"]) + 1 if outage["stopped_at_part"] in mb_ids else None
    during = set(mb_ids[down_start:]) if down_start is not None else set()
    got_during = [m["part_id"] for m in messages if m["part_id"] in during]
    report = {
        "parts_per_protocol": n,
        "source": args.source,
        "plc_poll_ms": args.poll_s * 1000,
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "ready_after_s": round(ready_s, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "opcua": check(ua_views, rows, messages),
        "modbus": check(mb_views, rows, messages),
        "opcua_trigger_to_ready_ms": {
            "p50": pct([v["ms"] for v in ua_views if v["ready"]], 50),
            "p99": pct([v["ms"] for v in ua_views if v["ready"]], 99),
        },
        "modbus_trigger_to_ready_ms": {
            "p50": pct([v["ms"] for v in mb_views if v["ready"]], 50),
            "p99": pct([v["ms"] for v in mb_views if v["ready"]], 99),
        },
        "inference_ms": {
            "p50": pct([s["inference_ms"] for s in station], 50),
            "p99": pct([s["inference_ms"] for s in station], 99),
        },
        "station_trigger_to_recorded_ms": {
            "p50": pct([s["elapsed_ms"] for s in station if s["elapsed_ms"]], 50),
            "p99": pct([s["elapsed_ms"] for s in station if s["elapsed_ms"]], 99),
        },
        "parts_per_s": {"opcua": round(n / t_ua, 2), "modbus": round(n / t_mb, 2)},
        "per_protocol": {name: per_part(views, station) for name, views in (("opcua", ua_views), ("modbus", mb_views))},
        "opcua_timeline_p50": opcua_timeline(ua_views, marks),
        "broker_outage": {
            **outage,
            "results_during_and_after": len(during),
            "delivered": len(set(got_during)),
            "all_in_order": in_order,
            "mqtt_messages": len(messages),
            "unique": len(set(order_ids)),
        },
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
