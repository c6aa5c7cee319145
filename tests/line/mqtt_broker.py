"""A real MQTT broker for the tests (amqtt on 127.0.0.1) in a process of its own, so that stopping it is what a
broker crash is for the station: the connection drops at once and the port is free for the restart. And a
subscriber that records what arrives."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.station_fakes import free_port

BROKER = """
import asyncio, json, sys
from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin


class AdmitFirst(BaseAuthPlugin):
    # Only the named client may connect until it has subscribed; then everyone (a persistent session's effect:
    # the subscriber's subscription exists before any publisher can publish).
    first = None
    subscribed = False

    async def authenticate(self, *, session):
        if AdmitFirst.subscribed or session.client_id == AdmitFirst.first:
            return None
        return False

    async def on_broker_client_subscribed(self, *, client_id, topic, qos):
        if client_id == AdmitFirst.first:
            AdmitFirst.subscribed = True


async def main(port, options):
    listener = {"type": "tcp", "bind": f"127.0.0.1:{port}"}
    plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": not options.get("password_file")}}
    if options.get("admit_first"):
        AdmitFirst.first = options["admit_first"]
        plugins["__main__.AdmitFirst"] = {}
    if options.get("password_file"):
        plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": options["password_file"]}
    if options.get("certfile"):
        listener.update(ssl=True, certfile=options["certfile"], keyfile=options["keyfile"])
    broker = Broker({"listeners": {"default": listener}, "plugins": plugins})
    await broker.start()
    print("listening", flush=True)
    while True:
        await asyncio.sleep(3600)

asyncio.run(main(int(sys.argv[1]), json.loads(sys.argv[2])))
"""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class LocalBroker:
    def __init__(
        self,
        port: int | None = None,
        *,
        password_file: Path | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        admit_first: str | None = None,
    ) -> None:
        """``password_file`` (lines ``name:argon2-hash``): only those users may connect; ``certfile`` / ``keyfile``:
        the listener speaks TLS only. ``admit_first`` (a client id): after every start, other clients are refused
        until that client has subscribed, as a persistent broker with a persistent session would keep its
        subscription across a restart (the plant benchmark's MES, tools/bench_plant.py)."""
        self.port = port or free_port()
        self.options = {
            k: str(v)
            for k, v in (
                ("password_file", password_file),
                ("certfile", certfile),
                ("keyfile", keyfile),
                ("admit_first", admit_first),
            )
            if v
        }
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> LocalBroker:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", BROKER, str(self.port), json.dumps(self.options)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the test broker did not start on port {self.port}: {self._proc.stderr.read()[-800:]}"
                )
            if _listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the test broker did not listen on port {self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (its process ends; its clients' connections drop) and wait until the port is free."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        deadline = time.monotonic() + timeout
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


class Subscriber:
    def __init__(self, port: int, topic: str = "#") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list = []  # (topic, payload bytes, retain)
        self._lock = threading.Lock()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
        client.on_message = self._on_message
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.reconnect_delay_set(1, 2)
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client

    def _on_message(self, _c, _u, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def on(self, topic: str) -> list:
        with self._lock:
            return [(p, r) for t, p, r in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
