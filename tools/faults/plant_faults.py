"""Plant faults under the headless line runner (issue 15): the MQTT broker killed (``kill -9``) and restarted while
a simulated PLC triggers parts, and PLC clients that drop the connection in the middle of the handshake, over OPC
UA and over Modbus.

The runner is ``main.py line`` in a process of its own (demo camera, software trigger, OPC UA, Modbus and MQTT on
127.0.0.1, security "none"); the broker is amqtt in a process of its own (tests/line/mqtt_broker.py), so a kill is
what a broker crash is for the station. A subscriber stands for the plant's MES (reconnecting, QoS 1). The PLC
(one protocol at a time, as a cell has one PLC) runs cycles of: write PartId, set Trigger, wait for ResultReady,
read InspectionId and ResultPartId, set ResultAck; at random it instead

- drops the connection in its connection handshake (OPC UA: ``connect()`` cancelled after 0-60 ms, so the TCP
  connection closes within Hello / OpenSecureChannel / CreateSession / ActivateSession; Modbus: half a request
  frame, then the socket closed),
- drops it right after setting Trigger (the result is never read on that connection),
- drops it after reading the result, before ResultAck.

After a drop it connects again and, like a PLC after a restart, first reads a result that is still waiting
(State ResultReady, or Error after the station's ack timeout), notes it and acknowledges it. Checked at the end:
every result the PLC was told is in the database with its part id, its files and matching SHA-256 (the usual
invariants), its MQTT message was acknowledged by the broker (outbox ``sent_at``), and how many of them the MES
received; every part triggered (told or not) is in the database once; the runner stops cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tools.faults.common import PYTHON, ROOT, env, fresh_data_dir
from tools.faults.invariants import check

TOPIC = "faults/line/inspection"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mes:
    """The plant's MES: every result message on the topic, reconnecting whenever the broker is back."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="faults-mes")
        self.client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        self.client.on_message = self._on
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on(self, _c, _u, message) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with self._lock:
            self.messages.append(payload)

    def ids(self) -> set[int]:
        with self._lock:
            return {int(m["inspection_id"]) for m in self.messages if "inspection_id" in m}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Tally:
    """What the PLC did and was told, shared by the PLC thread and the scenario."""

    def __init__(self) -> None:
        self.told: list[dict] = []  # {"id", "part", "sent"}
        self.triggered: list[str] = []
        self.drops: dict[str, int] = {"handshake": 0, "after_trigger": 0, "before_ack": 0}
        self.errors: list[str] = []
        self.recovered_results = 0  # results read after a reconnect (ResultReady or ack-timeout Error)

    def tell(self, iid: int, part: str, sent: str | None) -> None:
        if iid > 0 and all(t["id"] != iid for t in self.told):
            self.told.append({"id": iid, "part": part, "sent": sent or part})


def _choose(rng: random.Random, p_drop: float) -> str:
    if rng.random() >= p_drop:
        return "normal"
    return rng.choice(("handshake", "after_trigger", "before_ack"))


def opcua_plc(  # noqa: C901 - one PLC program, its branches are the drop moments
    endpoint: str, tally: Tally, stop: threading.Event, seed: int, p_drop: float
) -> None:
    from asyncua import Client, ua

    from line.plc.opcua_server import NAMESPACE, OBJECT

    rng = random.Random(seed)

    def abort(client) -> None:
        protocol = getattr(getattr(client, "uaclient", None), "protocol", None)
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()  # the TCP connection reset, no CloseSession / CloseSecureChannel

    async def run() -> None:
        n = 0
        while not stop.is_set():
            plan = _choose(rng, p_drop)
            client = Client(endpoint, timeout=5)
            try:
                if plan == "handshake":
                    tally.drops["handshake"] += 1
                    try:
                        await asyncio.wait_for(client.connect(), timeout=rng.uniform(0.0, 0.06))
                    except TimeoutError:
                        pass
                    abort(client)
                    await asyncio.sleep(0.2)
                    continue
                await client.connect()
                idx = await client.get_namespace_index(NAMESPACE)

                def node(name: str):
                    return client.get_node(f"ns={idx};s={OBJECT}.{name}")

                async def write(name: str, value, vtype: str) -> None:
                    await node(name).write_value(ua.DataValue(ua.Variant(value, getattr(ua.VariantType, vtype))))

                dropped = False
                while not stop.is_set() and not dropped:
                    state = await node("State").read_value()
                    if state in (3, 4):  # a result waits (or timed out unacknowledged): read it, then acknowledge
                        iid = int(await node("InspectionId").read_value())
                        part = str(await node("ResultPartId").read_value())
                        if iid > 0:
                            tally.tell(iid, part, None)
                            tally.recovered_results += 1
                        await write("ResultAck", True, "Boolean")
                        await asyncio.sleep(0.05)
                        continue
                    if state != 1:
                        await asyncio.sleep(0.05)
                        continue
                    n += 1
                    part = f"UA-{seed}-{n:05d}"
                    await write("PartId", part, "String")
                    await write("Trigger", True, "Boolean")
                    tally.triggered.append(part)
                    if plan == "after_trigger":
                        tally.drops["after_trigger"] += 1
                        abort(client)
                        dropped = True
                        break
                    t0 = time.monotonic()
                    while await node("State").read_value() != 3:
                        if stop.is_set() or time.monotonic() - t0 > 120:
                            break
                        await asyncio.sleep(0.02)
                    else:
                        iid = int(await node("InspectionId").read_value())
                        tally.tell(iid, str(await node("ResultPartId").read_value()), part)
                        if plan == "before_ack":
                            tally.drops["before_ack"] += 1
                            abort(client)
                            dropped = True
                            break
                        await write("ResultAck", True, "Boolean")
                    plan = _choose(rng, p_drop)
                    if plan == "handshake":
                        plan = "normal"  # only at connect
                if not dropped:
                    await client.disconnect()
            except Exception as exc:  # noqa: BLE001 - the runner restarting, a dropped channel: connect again
                if not stop.is_set():
                    tally.errors.append(type(exc).__name__)
                abort(client)
            await asyncio.sleep(0.3)

    asyncio.run(run())


def modbus_plc(port: int, tally: Tally, stop: threading.Event, seed: int, p_drop: float) -> None:
    from pymodbus.client import ModbusTcpClient

    from line.plc.modbus_map import registers_to_text, text_to_registers

    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        plan = _choose(rng, p_drop)
        if plan == "handshake":  # half a Modbus/TCP request frame (MBAP header of a write-coil), then closed
            tally.drops["handshake"] += 1
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(bytes([0, 1, 0, 0, 0, 6])[: rng.randint(1, 5)])
            except OSError:
                pass
            time.sleep(0.2)
            continue
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
        try:
            if not client.connect():
                time.sleep(0.5)
                continue
            dropped = False
            while not stop.is_set() and not dropped:
                regs = client.read_input_registers(0, count=28).registers
                state = regs[0]
                if state in (3, 4):
                    iid = (regs[9] << 16) | regs[10]
                    if iid > 0:
                        tally.tell(iid, registers_to_text(regs[12:28]), None)
                        tally.recovered_results += 1
                    client.write_coil(1, True)
                    time.sleep(0.05)
                    continue
                if state != 1:
                    time.sleep(0.05)
                    continue
                n += 1
                part = f"MB-{seed}-{n:05d}"
                client.write_registers(0, text_to_registers(part, 16))
                client.write_coil(0, True)
                tally.triggered.append(part)
                if plan == "after_trigger":
                    tally.drops["after_trigger"] += 1
                    client.close()
                    dropped = True
                    break
                t0 = time.monotonic()
                ready = False
                while not stop.is_set() and time.monotonic() - t0 < 120:
                    if client.read_input_registers(0, count=1).registers[0] == 3:
                        ready = True
                        break
                    time.sleep(0.02)
                if ready:
                    regs = client.read_input_registers(0, count=28).registers
                    tally.tell((regs[9] << 16) | regs[10], registers_to_text(regs[12:28]), part)
                    if plan == "before_ack":
                        tally.drops["before_ack"] += 1
                        client.close()
                        dropped = True
                        break
                    client.write_coil(1, True)
                plan = _choose(rng, p_drop)
                if plan == "handshake":
                    plan = "normal"
            client.close()
        except Exception as exc:  # noqa: BLE001 - the connection dropped under the client: connect again
            if not stop.is_set():
                tally.errors.append(type(exc).__name__)
            client.close()
        time.sleep(0.3)


def _broker_killer(broker, stop: threading.Event, rng: random.Random, kills: list[dict]) -> None:
    """Kill -9 the broker every 20-40 s, leave it down 2-8 s, start it again on the same port."""
    while not stop.wait(rng.uniform(20.0, 40.0)):
        proc = broker._proc
        if proc is None or proc.poll() is not None:
            continue
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        down = rng.uniform(2.0, 8.0)
        t0 = time.monotonic()
        stop.wait(down)
        try:
            broker.start()
            kills.append({"down_s": round(time.monotonic() - t0, 1)})
        except Exception as exc:  # noqa: BLE001 - reported: a broker that does not come back ends the scenario
            kills.append({"restart_failed": repr(exc)})
            return


def _rows(data: Path) -> tuple[dict[int, str | None], dict[str, list[int]], dict[int, bool]]:
    con = sqlite3.connect(f"file:{data / 'station.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        parts = dict(con.execute("select id, part_id from inspections").fetchall())
        sent = {
            iid: bool(s) for iid, s in con.execute("select inspection_id, sent_at is not null from outbox_messages")
        }
    finally:
        con.close()
    by_part: dict[str, list[int]] = {}
    for iid, part in parts.items():
        if part:
            by_part.setdefault(part, []).append(iid)
    return parts, by_part, sent


def _pending(data: Path) -> int:
    con = sqlite3.connect(f"file:{data / 'station.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("select count(*) from outbox_messages where sent_at is null").fetchone()[0])
    finally:
        con.close()


def scenario_plant(out: Path, template: Path, minutes_per_protocol: float, p_drop: float = 0.3) -> list[dict]:
    """Both protocols one after the other, each for ``minutes_per_protocol`` with the broker killed meanwhile."""
    sys.path.insert(0, str(ROOT))
    from tests.line.mqtt_broker import LocalBroker

    base = out / "plant"
    data = fresh_data_dir(template, base / "data")
    broker = LocalBroker().start()
    opcua_port, modbus_port = _free_port(), _free_port()
    config = base / "station.toml"
    config.write_text(
        f'[station]\ndata_dir = "{data}"\nproduct = "Demo disk"\nname = "faults"\nack_timeout_s = 5.0\n'
        '[camera]\nsource = "demo"\ntrigger = "software"\n'
        f'[opcua]\nendpoint = "opc.tcp://127.0.0.1:{opcua_port}/inspection/"\nsecurity = "none"\n'
        f'[modbus]\nport = {modbus_port}\nsecurity = "none"\n'
        f'[mqtt]\nport = {broker.port}\ntopic = "{TOPIC}"\nsecurity = "none"\n'
    )
    log = open(base / "runner.log", "ab")
    runner = subprocess.Popen(
        [PYTHON, "main.py", "line", "--config", str(config)], cwd=ROOT, env=env(), stdout=log, stderr=subprocess.STDOUT
    )
    mes = Mes(broker.port)
    results = []
    all_told: list[int] = []
    rng = random.Random(1515)
    try:
        for protocol in ("opcua", "modbus"):
            tally, stop = Tally(), threading.Event()
            if protocol == "opcua":
                target, address = opcua_plc, f"opc.tcp://127.0.0.1:{opcua_port}/inspection/"
            else:
                target, address = modbus_plc, modbus_port
            plc = threading.Thread(target=target, args=(address, tally, stop, rng.randint(1, 999), p_drop), daemon=True)
            kills: list[dict] = []
            killer_stop = threading.Event()
            killer = threading.Thread(target=_broker_killer, args=(broker, killer_stop, rng, kills), daemon=True)
            t0 = time.monotonic()
            plc.start()
            killer.start()
            while time.monotonic() - t0 < minutes_per_protocol * 60 and runner.poll() is None:
                time.sleep(1.0)
            killer_stop.set()
            killer.join(30)
            if broker._proc is None or broker._proc.poll() is not None:
                broker.start()
            time.sleep(8.0)  # a last result the PLC is reading, acknowledged or timed out
            stop.set()
            plc.join(60)
            drained_t0 = time.monotonic()
            while _pending(data) and time.monotonic() - drained_t0 < 120:
                time.sleep(0.5)
            time.sleep(3.0)  # the MES's last messages
            parts, by_part, sent = _rows(data)
            told_ids = [t["id"] for t in tally.told]
            all_told.extend(told_ids)
            missing = [t for t in tally.told if t["id"] not in parts]
            wrong_part = [t for t in tally.told if t["id"] in parts and parts[t["id"]] != t["sent"]]
            triggered_missing = [p for p in tally.triggered if p not in by_part]
            duplicated = [p for p in tally.triggered if len(by_part.get(p, [])) > 1]
            not_acked = [i for i in told_ids if not sent.get(i, False)]
            mes_ids = mes.ids()
            not_received = [i for i in told_ids if i not in mes_ids]
            inv = check(data, [{"id": i} for i in told_ids], audit=protocol == "modbus", hashes=True)
            problems = inv.problems(orphans=False, spool=False)
            failures = int(bool(missing or wrong_part or triggered_missing or duplicated or not_acked or problems))
            results.append(
                {
                    "scenario": f"broker kill -9 + PLC drops mid-handshake ({protocol})",
                    "trials": sum(tally.drops.values()) + len(kills),
                    "failures": failures,
                    "minutes": minutes_per_protocol,
                    "parts_triggered": len(tally.triggered),
                    "results_told_to_plc": len(told_ids),
                    "results_read_after_reconnect": tally.recovered_results,
                    "plc_drops": dict(tally.drops),
                    "plc_errors": len(tally.errors),
                    "plc_error_kinds": sorted(set(tally.errors))[:8],
                    "broker_kills": kills,
                    "told_missing_in_db": len(missing),
                    "told_with_wrong_part_id": len(wrong_part),
                    "triggered_missing_in_db": len(triggered_missing),
                    "triggered_examples_missing": triggered_missing[:5],
                    "duplicated_rows": len(duplicated),
                    "told_not_acknowledged_by_broker": len(not_acked),
                    "told_not_received_by_mes": len(not_received),
                    "invariant_problems": problems,
                    "runner_alive": runner.poll() is None,
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            code = runner.wait(120)
        except subprocess.TimeoutExpired:
            runner.kill()
            code = runner.wait()
        log.close()
        mes.close()
        broker.stop()
    text = data / "logs" / "line.log"
    saw = (
        [
            line
            for line in text.read_text(errors="replace").splitlines()
            if ("ERROR" in line or "WARNING" in line) and "asyncua" not in line
        ]
        if text.exists()
        else []
    )
    final = check(data, [{"id": i} for i in all_told], audit=True, hashes=True)
    for r in results:
        r["runner_exit"] = code
        r["runner_log_warnings"] = len(saw)
        r["runner_log_examples"] = sorted({line.split(": ", 1)[-1][:200] for line in saw})[:8]
        r["final_problems"] = final.problems(spool=True)
    return results
