"""Results out on MQTT: a thread that sends the database's outbox (db/outbox.py) in id order with QoS 1 and marks
each message sent once the broker acknowledged it, and the station's retained status.

- A broker that is down loses nothing: the messages wait in the outbox and go out in order once it is back (paho
  reconnects by itself with growing waits). A message in flight when the connection dropped is sent again by paho
  on the new connection before anything else, so the order holds; delivery is at least once.
- ``<topic>/status`` (retained): "online" on connect, "offline" on a clean stop, and "offline" as the last will the
  broker publishes when the station vanishes. ``<topic>/state`` (retained): the state as JSON on every change.
- ``on_connection`` hears every change of the connection (paho's network thread): connected, refused, lost, or
  the broker not reachable, with a :class:`BrokerLink` and the reason in words (the window lists it as a problem).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from db.errors import DatabaseError
from db.outbox import OutboxEntry
from line.event_bus import Subscription
from line.events import FaultCleared, FaultRaised, PartRecorded, StateChanged, StationEvent

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
BATCH = 100
# After a recorded part the publisher waits this long before its own work (the outbox read, the state message), so
# that the PLC's handshake, which waits on the same result, is not slowed by it (docs/benchmarks-plant.md, run Q).
PLC_FIRST_S = 0.004


class BrokerLink(Enum):
    """The publisher's connection to the broker, as ``on_connection`` hears it."""

    CONNECTED = "connected"
    REFUSED = "refused"  # the broker answered and refused (login, client id)
    LOST = "lost"  # a connection that was up dropped
    UNREACHABLE = "unreachable"  # no connection could be made (broker down, wrong host or port)


ConnectionListener = Callable[[BrokerLink, str], None]


@dataclass(frozen=True)
class MqttTls:
    """TLS to the broker: its CA (None: the system's CAs) and, if the broker asks for one, a client certificate."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


class MqttPublisher:
    def __init__(
        self,
        outbox: Any,  # db.outbox.OutboxRepository
        host: str,
        port: int,
        topic: str,
        *,
        status: Any = None,  # line.station_status.StationStatus, for the retained state
        client_id: str | None = None,
        keepalive_s: int = 30,
        max_reconnect_delay_s: float = 5.0,
        username: str | None = None,
        password: str | None = None,
        tls: MqttTls | None = None,
        on_connection: ConnectionListener | None = None,
    ) -> None:
        """``username`` / ``password``: the broker login; ``tls``: connect with TLS (the broker's CA, optionally a
        client certificate). Both come from ``[mqtt]`` in the station config (line/endpoint_security.py).
        ``on_connection``: told each change of the connection to the broker (see the module's docstring)."""
        self.on_connection = on_connection
        self.link: BrokerLink | None = None  # the last change heard; None before the first attempt ended
        self.outbox = outbox
        self.username, self._password, self.tls = username, password, tls
        self.host, self.port, self.topic = host, int(port), topic.rstrip("/")
        self.status_topic = f"{self.topic}/status"
        self.state_topic = f"{self.topic}/state"
        self.status = status
        self.client_id = client_id or f"inspection-station-{int(time.time())}"
        self.keepalive_s = int(keepalive_s)
        self.max_reconnect_delay_s = max_reconnect_delay_s
        self.connected = threading.Event()
        self.sent = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._state_due = threading.Event()  # the station's state changed: publish it (from this publisher's thread)
        self._part_at = 0.0  # time.monotonic() of the last recorded part
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._subscription: Subscription | None = None

    # -- start / stop -------------------------------------------------------------------------------------------
    def start(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        if self.username:
            client.username_pw_set(self.username, self._password)
        if self.tls is not None:
            client.tls_set(
                ca_certs=str(self.tls.ca) if self.tls.ca else None,
                certfile=str(self.tls.cert) if self.tls.cert else None,
                keyfile=str(self.tls.key) if self.tls.key else None,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(self.max_reconnect_delay_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        client.loop_start()
        if self.status is not None:
            self._subscription = self.status.bus.subscribe(
                self._on_event, StateChanged, PartRecorded, FaultRaised, FaultCleared
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="line-mqtt", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is ready within ``timeout_s``, say "offline" (retained) and disconnect."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        deadline = time.monotonic() + timeout_s
        while self.connected.is_set() and time.monotonic() < deadline and self._pending() > 0:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.5, deadline - time.monotonic()))
            self._thread = None
        client, self._client = self._client, None
        if client is None:
            return
        if self.connected.is_set():
            try:
                client.publish(self.status_topic, OFFLINE, qos=1, retain=True).wait_for_publish(1.0)
            except (RuntimeError, ValueError):
                pass
        client.disconnect()
        client.loop_stop()
        self.connected.clear()

    def _pending(self) -> int:
        try:
            return int(self.outbox.count_pending())
        except DatabaseError:
            return 0

    # -- paho's callbacks (its network thread) ----------------------------------------------------------------
    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any = None) -> None:
        if getattr(reason_code, "is_failure", False):
            self.last_error = f"the broker refused the connection: {reason_code}"
            log.error("MQTT: %s", self.last_error)
            self._tell(BrokerLink.REFUSED, self.last_error)
            return
        log.info("MQTT connected to %s:%d", self.host, self.port)
        client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        self._publish_state(client)
        self.connected.set()
        self._wake.set()
        self._tell(BrokerLink.CONNECTED, f"connected to {self.host}:{self.port}")

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any = None
    ) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        if was_up:
            log.warning(
                "MQTT connection to %s:%d lost (%s); results wait in the outbox", self.host, self.port, reason_code
            )
            if not self._stop.is_set():
                self._tell(BrokerLink.LOST, f"the connection to {self.host}:{self.port} was lost ({reason_code})")

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        """No connection could be made (paho retries by itself with growing waits)."""
        self.last_error = f"the broker at {self.host}:{self.port} cannot be reached"
        if self.link is not BrokerLink.UNREACHABLE:
            log.warning("MQTT: %s; results wait in the outbox", self.last_error)
        self._tell(BrokerLink.UNREACHABLE, self.last_error)

    def _tell(self, link: BrokerLink, text: str) -> None:
        changed = link is not self.link
        self.link = link
        if changed and self.on_connection is not None:
            try:
                self.on_connection(link, text)
            except Exception:
                log.exception("the MQTT connection listener failed")

    def _on_event(self, event: StationEvent) -> None:
        """In the thread that changed the station: only note what to send; the publisher's thread sends it."""
        if isinstance(event, PartRecorded):
            self._part_at = time.monotonic()
        else:
            self._state_due.set()
        self._wake.set()

    def _hold_for_the_plc(self) -> None:
        """Right after a part, let the PLC's handshake have the interpreter first (its result, then MQTT's)."""
        wait = self._part_at + PLC_FIRST_S - time.monotonic()
        if wait > 0:
            self._stop.wait(wait)

    def _publish_state(self, client: Any) -> None:
        if self.status is None:
            return
        snap = self.status.snapshot()
        state = {
            "state": snap.state.name,
            "error_code": int(snap.error_code),
            "error_text": snap.error_text,
            "product": snap.product_name,
            "product_id": snap.product_id,
            "count_total": snap.counts.total,
            "count_ok": snap.counts.ok,
            "count_ng": snap.counts.ng,
            "at": datetime.now(UTC).isoformat(),
        }
        client.publish(self.state_topic, json.dumps(state), qos=1, retain=True)

    # -- the outbox ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected.wait(0.2):
                continue
            self._hold_for_the_plc()
            if self._state_due.is_set() and self._client is not None:
                self._state_due.clear()
                self._publish_state(self._client)
            try:
                entries = self.outbox.pending(BATCH)
            except DatabaseError as exc:
                self.last_error = str(exc)
                log.warning("MQTT outbox not readable: %s", exc)
                self._stop.wait(1.0)
                continue
            if not entries:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for entry in entries:
                if self._stop.is_set() or not self._send(entry):
                    break

    def _send(self, entry: OutboxEntry) -> bool:
        """Publish one message and wait for its PUBACK (across reconnections); True once it is marked sent."""
        client = self._client
        if client is None:
            return False
        info = client.publish(entry.topic, json.dumps(entry.payload, separators=(",", ":")), qos=1)
        if info.rc != 0:
            return False  # not connected any more: the message stays in the outbox
        while not info.is_published():
            if self._stop.is_set():
                return False
            try:
                info.wait_for_publish(0.5)
            except (RuntimeError, ValueError) as exc:
                self.last_error = str(exc)
                return False
        try:
            self.outbox.mark_sent(entry.id)
        except DatabaseError as exc:  # sent; it goes again later (at least once)
            log.warning("MQTT message %d sent but not marked: %s", entry.id, exc)
            return False
        self.sent += 1
        return True
