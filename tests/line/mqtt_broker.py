"""A real MQTT broker for the tests (amqtt, in its own thread and event loop, on 127.0.0.1), that can be stopped
and started again on the same port, and a subscriber that records what arrives."""
from __future__ import annotations

import asyncio
import threading
import time

from line_fakes import free_port


class LocalBroker:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._started = threading.Event()
        self.error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> "LocalBroker":
        self._stop, self._started = threading.Event(), threading.Event()
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="test-broker", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self.error is not None:
            raise RuntimeError(f"the test broker did not start on port {self.port}: {self.error}")
        return self

    def _run(self, stop: threading.Event) -> None:
        async def main() -> None:
            from amqtt.broker import Broker

            broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                             "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}})
            await broker.start()
            self._started.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            await broker.shutdown()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
        finally:
            self._started.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker and wait until its port is free again (RuntimeError if it does not stop in time)."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the test broker on port {self.port} did not stop within {timeout} s")
        self._thread = None


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
