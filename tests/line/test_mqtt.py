"""Results on MQTT against a real broker (amqtt) on 127.0.0.1: each result as JSON with QoS 1, in order; the retained
status with its last will; a broker that is down or stops mid-run loses nothing, and everything goes out in order."""

from __future__ import annotations

import json
import socket

import pytest
from mqtt_broker import LocalBroker, Subscriber

from line.mqtt.publisher import OFFLINE, ONLINE, MqttPublisher
from tests.station_fakes import wait_until

pytest.importorskip("amqtt", reason="amqtt (the tests' MQTT broker) is not installed")
pytestmark = pytest.mark.timeout(90)
TOPIC = "plant/line1/inspection"


def _results(sub: Subscriber) -> list[dict]:
    return [json.loads(p) for p, _ in sub.on(TOPIC)]


def _run_parts(rig, ids) -> None:
    for part in ids:
        assert rig.controller.trigger(part) is None
        wait_until(lambda: rig.status.result_ready, 5, f"the result of {part}")
        rig.controller.acknowledge()


@pytest.fixture
def broker():
    b = LocalBroker().start()
    yield b
    b.stop()


def test_each_result_goes_out_as_json_in_order_with_the_status_retained(make_line, database, broker):
    rig = make_line(topic=TOPIC).start()
    sub = Subscriber(broker.port)
    pub = MqttPublisher(database.outbox, "127.0.0.1", broker.port, TOPIC, status=rig.status)
    pub.start()
    try:
        wait_until(pub.connected.is_set, 10, "the MQTT connection")
        _run_parts(rig, ["M1", "M2", "M3"])
        wait_until(lambda: len(_results(sub)) == 3, 10, "three results")
        results = _results(sub)
        assert [r["part_id"] for r in results] == ["M1", "M2", "M3"]
        first = results[0]
        assert first["product"] == "widget" and first["verdict"] in ("PASS", "FAIL")
        assert {
            "probability",
            "regions",
            "image_sha256",
            "heatmap_sha256",
            "inspected_at",
            "recorded_at",
            "timings_ms",
            "inspection_id",
        } <= set(first)
        record = database.inspections.get(first["inspection_id"])
        assert record.image_sha256 == first["image_sha256"] and record.verdict == first["verdict"]
        wait_until(lambda: database.outbox.count_pending() == 0, 5, "the outbox to be marked sent")
        assert any(payload == ONLINE.encode() for payload, _ in sub.on(f"{TOPIC}/status"))
        state = json.loads(sub.on(f"{TOPIC}/state")[-1][0])
        assert state["state"] in ("READY", "RESULT_READY", "BUSY") and state["product"] == "widget"
    finally:
        pub.stop()
        sub.close()
    late = Subscriber(broker.port, f"{TOPIC}/status")  # a newcomer gets the retained status
    try:
        wait_until(lambda: late.on(f"{TOPIC}/status"), 5, "the retained status")
        assert late.on(f"{TOPIC}/status")[-1] == (OFFLINE.encode(), True)
    finally:
        late.close()


def test_the_last_will_says_offline_when_the_station_vanishes(make_line, database, broker):
    rig = make_line(topic=TOPIC).start()
    pub = MqttPublisher(database.outbox, "127.0.0.1", broker.port, TOPIC, status=rig.status, keepalive_s=5)
    pub.start()
    wait_until(pub.connected.is_set, 10, "the MQTT connection")
    sub = Subscriber(broker.port, f"{TOPIC}/status")
    try:
        wait_until(lambda: sub.on(f"{TOPIC}/status"), 5, "the retained online")
        assert sub.on(f"{TOPIC}/status")[-1][0] == ONLINE.encode()
        pub._stop.set()
        pub._client.loop_stop()
        pub._client.socket().shutdown(socket.SHUT_RDWR)  # the cabinet PC loses power: no goodbye
        pub._client.socket().close()
        wait_until(lambda: sub.on(f"{TOPIC}/status")[-1][0] == OFFLINE.encode(), 15, "the last will")
    finally:
        sub.close()


def test_a_broker_down_at_start_and_stopped_mid_run_loses_nothing(make_line, database, tmp_path):
    broker = LocalBroker()
    rig = make_line(topic=TOPIC).start()
    pub = MqttPublisher(database.outbox, "127.0.0.1", broker.port, TOPIC, status=rig.status, max_reconnect_delay_s=1)
    pub.start()
    try:
        _run_parts(rig, [f"D{i}" for i in range(3)])  # no broker yet: they wait in the outbox
        assert database.outbox.count_pending() == 3 and not pub.connected.is_set()
        broker.start()
        sub = Subscriber(broker.port)
        wait_until(lambda: database.outbox.count_pending() == 0, 15, "the outbox to drain")
        _run_parts(rig, [f"D{i}" for i in range(3, 5)])
        wait_until(lambda: database.outbox.count_pending() == 0, 10, "the next results")
        broker.stop()  # mid-run
        sub.close()
        wait_until(lambda: not pub.connected.is_set(), 10, "the broken connection")
        _run_parts(rig, [f"D{i}" for i in range(5, 9)])
        assert database.outbox.count_pending() == 4
        broker.start()
        sub = Subscriber(broker.port)
        wait_until(lambda: database.outbox.count_pending() == 0, 20, "the results after the broker is back")
        wait_until(lambda: len(_results(sub)) >= 4, 10, "the subscriber to get them")
        got = [r["part_id"] for r in _results(sub)]
        assert got == ["D5", "D6", "D7", "D8"]  # every result of the downtime, in order
        # the outbox row is marked before the counter moves: wait for the publisher thread, do not race it
        wait_until(lambda: pub.sent == 9, 5, "the publisher to count the ninth message")
        sub.close()
    finally:
        pub.stop()
        broker.stop()
