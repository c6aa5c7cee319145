"""The OPC UA server of the station (asyncua): object ``InspectionStation`` under Objects, in the spirit of
OPC 40100 (Machine Vision), with the handshake of docs/plc.md.

    PLC writes PartId, then Trigger = True  -> the station takes the part (Trigger goes back to False at once)
                                              or refuses it (ErrorCode / ErrorText say why)
    station: ResultOK / ResultNG / Probability / ResultPartId, then ResultReady = True, once the result is recorded
    PLC writes ResultAck = True             -> the station clears ResultReady (and ResultAck) and is Ready again
    PLC writes RecipeId                     -> the station switches the product; RecipeId always shows the one in use

Node ids are strings: ``ns=<urn:inspection-station:line>;s=InspectionStation.<Name>``.

Security comes from ``[opcua] security`` in the station config: "none", or Basic256Sha256 Sign / SignAndEncrypt
with the server's certificate and key and clients logging in as station users with the role line
(line/plc/opcua_security.py, docs/plc.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from line.controller import StationController
from line.endpoint_security import OpcUaSecurity
from line.event_bus import Subscription
from line.events import StationEvent
from line.plc.opcua_security import OpcUaSecuritySettings, PasswordCheck, apply_security, user_manager
from line.plc.server_thread import LoopThread, PlcServerError
from line.plc.signals import MAX_PART_ID, signals_of

log = logging.getLogger(__name__)

NAMESPACE = "urn:inspection-station:line"
OBJECT = "InspectionStation"

# name -> (VariantType name, initial value, writable by the PLC)
VARIABLES: dict[str, tuple[str, Any, bool]] = {
    "State": ("Int32", 0, False),
    "Ready": ("Boolean", False, False),
    "Busy": ("Boolean", False, False),
    "Trigger": ("Boolean", False, True),
    "PartId": ("String", "", True),
    "RecipeId": ("Int32", 0, True),
    "ResultReady": ("Boolean", False, False),
    "ResultOK": ("Boolean", False, False),
    "ResultNG": ("Boolean", False, False),
    "Probability": ("Double", 0.0, False),
    "ResultPartId": ("String", "", False),
    "InspectionId": ("Int64", 0, False),
    "ResultAck": ("Boolean", False, True),
    "ErrorCode": ("Int32", 0, False),
    "ErrorText": ("String", "", False),
    "CountTotal": ("UInt32", 0, False),
    "CountOK": ("UInt32", 0, False),
    "CountNG": ("UInt32", 0, False),
}
# station-owned values, in the order they are written: the result before the flags that announce it
WRITE_ORDER = (
    "ResultOK",
    "ResultNG",
    "Probability",
    "ResultPartId",
    "InspectionId",
    "CountTotal",
    "CountOK",
    "CountNG",
    "ErrorCode",
    "ErrorText",
    "RecipeId",
    "Busy",
    "State",
    "Ready",
    "ResultReady",
)


def node_id_text(namespace_index: int, name: str) -> str:
    return f"ns={namespace_index};s={OBJECT}.{name}"


class OpcUaServer:
    def __init__(
        self,
        controller: StationController,
        endpoint: str,
        namespace: str = NAMESPACE,
        *,
        security: OpcUaSecuritySettings | None = None,
        users: PasswordCheck | None = None,
    ) -> None:
        """``security`` (default: none) as the station config says; with security on, ``users`` checks each
        client's name and password (line/plc/opcua_security.py: station users with the role line)."""
        self.controller = controller
        self.endpoint = endpoint
        self.namespace = namespace
        self.security = security or OpcUaSecuritySettings()
        if self.security.mode is not OpcUaSecurity.NONE and users is None:
            raise ValueError("OPC UA security needs a check of the clients' names and passwords")
        self.users = users
        self.namespace_index = 0
        self._loop = LoopThread("line-opcua")
        self._server: Any = None
        self._nodes: dict[str, Any] = {}
        self._names: dict[Any, str] = {}  # NodeId -> name
        self._written: dict[str, Any] = {}
        self._dirty = False
        self._write_lock: asyncio.Lock | None = None
        self._subscription: Subscription | None = None

    # -- start / stop -------------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 20.0) -> None:
        self._loop.start()
        try:
            self._loop.run(self._start(), timeout_s)
        except Exception as exc:
            self.stop()
            raise PlcServerError(f"The OPC UA server could not start on {self.endpoint}: {_why(exc)}") from exc
        self._subscription = self.controller.status.bus.subscribe(self._on_event)
        self._mark_dirty()

    async def _start(self) -> None:
        from asyncua import ua
        from asyncua.common.callback import CallbackType
        from asyncua.server.server import Server

        secured = self.security.mode is not OpcUaSecurity.NONE
        server = Server(user_manager=user_manager(self.users) if secured else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Inspection station")
        await apply_security(server, self.security)
        self.namespace_index = idx = await server.register_namespace(self.namespace)
        # asyncua annotates NodeId with its own wrapper types (String, Int16) but takes plain str and int
        station = await server.nodes.objects.add_object(
            ua.NodeId(OBJECT, idx),  # type: ignore[arg-type]
            ua.QualifiedName(OBJECT, idx),
        )
        for name, (vtype, initial, writable) in VARIABLES.items():
            node = await station.add_variable(
                ua.NodeId(f"{OBJECT}.{name}", idx),  # type: ignore[arg-type]
                ua.QualifiedName(name, idx),
                initial,
                varianttype=getattr(ua.VariantType, vtype),
            )
            if writable:
                await node.set_writable()
            self._nodes[name] = node
            self._names[node.nodeid] = name
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        # A PLC that polls reads the station's state as of its read, as over Modbus: a change not yet written to
        # the nodes is written first (about 2 ms sooner than waiting for the loop to get to it, docs/benchmarks-plant.md).
        server.subscribe_server_callback(CallbackType.PreRead, self._on_read)
        self._write_lock = asyncio.Lock()
        await server.start()
        self._server = server
        log.info(
            "OPC UA server listening on %s (namespace %s = %d, security %s)",
            self.endpoint,
            self.namespace,
            idx,
            self.security.mode.value,
        )

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        server, self._server = self._server, None
        if server is not None and self._loop.loop is not None:
            try:
                self._loop.run(server.stop(), timeout_s)
            except Exception as exc:  # noqa: BLE001
                log.warning("the OPC UA server did not stop cleanly: %s", exc)
        self._loop.stop(timeout_s)

    # -- the PLC writes -------------------------------------------------------------------------------------------
    async def _on_write(self, event: Any, _dispatcher: Any) -> None:
        params, results = event.request_params, event.response_params or []
        ours = False  # the server's own writes (its clock, every second) come here too: they change nothing of ours
        for i, write in enumerate(params.NodesToWrite):
            if i < len(results) and not results[i].is_good():
                continue
            name = self._names.get(write.NodeId)
            if name is None:
                continue
            ours = True
            value = write.Value.Value.Value if write.Value is not None and write.Value.Value is not None else None
            try:
                await self._handle(name, value)
            except Exception:
                log.exception("handling the PLC's write of %s failed", name)
        if ours:
            await self._refresh()

    async def _on_read(self, _event: Any, _dispatcher: Any) -> None:
        if self._dirty:
            await self._refresh()

    async def _handle(self, name: str | None, value: Any) -> None:
        if name == "Trigger" and value:
            part_id = str(await self._nodes["PartId"].read_value() or "")[:MAX_PART_ID]
            fault = self.controller.trigger(part_id or None)
            if fault is not None:
                log.info("OPC UA trigger of part %r refused: %s (%d)", part_id, fault.text, fault.code)
            await self._set("Trigger", False)
        elif name == "ResultAck" and value:
            self.controller.acknowledge()
            await self._set("ResultAck", False)
        elif name == "RecipeId" and value is not None:
            fault = self.controller.select_recipe(int(value))
            if fault is not None:
                log.info("OPC UA recipe %s refused: %s", value, fault.text)
            self._written.pop("RecipeId", None)  # show the recipe in use again

    async def _set(self, name: str, value: Any) -> None:
        from asyncua import ua

        vtype = getattr(ua.VariantType, VARIABLES[name][0])
        await self._server.write_attribute_value(self._nodes[name].nodeid, ua.DataValue(ua.Variant(value, vtype)))
        self._written[name] = value

    # -- the station's state -> the nodes ---------------------------------------------------------------------------
    def _on_event(self, _event: StationEvent) -> None:
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._loop.call_soon(lambda: asyncio.ensure_future(self._refresh()))

    async def _refresh(self) -> None:
        if self._server is None or self._write_lock is None:
            return
        async with self._write_lock:
            self._dirty = False
            s = signals_of(self.controller.status.snapshot())
            values = {
                "ResultOK": s.result_ok,
                "ResultNG": s.result_ng,
                "Probability": s.probability,
                "ResultPartId": s.result_part_id,
                "InspectionId": s.inspection_id,
                "CountTotal": s.count_total,
                "CountOK": s.count_ok,
                "CountNG": s.count_ng,
                "ErrorCode": s.error_code,
                "ErrorText": s.error_text,
                "RecipeId": s.recipe_id,
                "Busy": s.busy,
                "State": s.state,
                "Ready": s.ready,
                "ResultReady": s.result_ready,
            }
            for name in WRITE_ORDER:
                if self._written.get(name, object()) != values[name]:
                    await self._set(name, values[name])


def _why(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in (98, 48, 10048):
        return f"the port is already in use ({text}); choose another port in [opcua] endpoint"
    if "address already in use" in text.lower():
        return f"the port is already in use ({text}); choose another port in [opcua] endpoint"
    if isinstance(exc, TimeoutError):
        return "it did not start in time"
    return text
