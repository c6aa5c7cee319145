"""The Modbus TCP server of the station (pymodbus), for PLCs that speak nothing else: the same signals and the same
handshake as the OPC UA server, in the register map of line/plc/modbus_map.py (docs/plc.md).

The station's outputs (discrete inputs, input registers) are computed from one snapshot of the station at each
read, so a PLC never reads a half-updated result; the PLC's outputs (coils, holding registers) are kept here.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext

from line.controller import StationController
from line.endpoint_security import IpNetwork, client_allowed
from line.plc.modbus_map import (
    PART_ID_REGS,
    SIZES,
    discrete_inputs,
    input_registers,
    registers_to_text,
)
from line.plc.server_thread import LoopThread, PlcServerError
from line.plc.signals import signals_of

log = logging.getLogger(__name__)

TRIGGER, RESULT_ACK = 0, 1
RECIPE_REGISTER = 16
READ_CODES = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
WRITE_CODES = {5: "coil", 15: "coil", 6: "holding", 16: "holding"}


class StationRegisters(ModbusServerContext):
    """The datastore pymodbus serves: every unit id sees the same station."""

    def __init__(self, controller: StationController) -> None:
        self.controller = controller
        self.old_simulator = True  # pymodbus: use this object's async_getValues / async_setValues directly
        self.simdevices = []
        self._devices = {}
        self._lock = threading.Lock()
        self.coils = [False] * SIZES["coil"]
        self.holding = [0] * SIZES["holding"]
        self._echo: tuple[int, int, list[Any]] | None = None  # what the last write wrote (its response echoes it)

    def device_ids(self) -> list[int]:
        return [0]

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1) -> Any:
        if func_code in WRITE_CODES:  # the read-back of a write request: echo what the PLC wrote
            echo = self._echo
            if echo is not None and echo[0] == address:
                return list(echo[2])[:count]
        table = READ_CODES.get(func_code) or WRITE_CODES.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if address < 0 or count < 1 or address + count > SIZES[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        if table == "coil":
            with self._lock:
                return self.coils[address : address + count]
        if table == "holding":
            with self._lock:
                values = list(self.holding)
            values[RECIPE_REGISTER] = (self.controller.status.product_id or 0) & 0xFFFF
            return values[address : address + count]
        signals = signals_of(self.controller.status.snapshot())
        table_values: list[bool] | list[int] = (
            discrete_inputs(signals) if table == "discrete" else input_registers(signals)
        )
        return table_values[address : address + count]

    async def async_setValues(self, device_id: int, func_code: int, address: int, values: Sequence[Any]) -> Any:
        table = WRITE_CODES.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if address < 0 or address + len(values) > SIZES[table]:
            return ExcCodes.ILLEGAL_ADDRESS
        self._echo = (address, func_code, list(values))
        try:
            if table == "holding":
                self._write_holding(address, [int(v) & 0xFFFF for v in values])
            else:
                self._write_coils(address, [bool(v) for v in values])
        except Exception:
            log.exception("handling the PLC's Modbus write at %s failed", address)
            return ExcCodes.DEVICE_FAILURE
        return None

    def _write_holding(self, address: int, values: list[int]) -> None:
        with self._lock:
            self.holding[address : address + len(values)] = values
        if address <= RECIPE_REGISTER < address + len(values):
            fault = self.controller.select_recipe(values[RECIPE_REGISTER - address])
            if fault is not None:
                log.info("Modbus recipe %s refused: %s", values[RECIPE_REGISTER - address], fault.text)

    def _write_coils(self, address: int, values: list[bool]) -> None:
        for offset, value in enumerate(values):
            coil = address + offset
            if coil == TRIGGER and value:
                with self._lock:
                    part_id = registers_to_text(self.holding[:PART_ID_REGS])
                fault = self.controller.trigger(part_id or None)
                if fault is not None:
                    log.info("Modbus trigger of part %r refused: %s (%d)", part_id, fault.text, fault.code)
                value = False  # taken (or refused): the coil is ready for the next trigger
            elif coil == RESULT_ACK and value:
                self.controller.acknowledge()
                value = False
            with self._lock:
                self.coils[coil] = value


class ModbusServer:
    def __init__(
        self,
        controller: StationController,
        host: str = "127.0.0.1",
        port: int = 5020,
        *,
        allow: tuple[IpNetwork, ...] = (),
    ) -> None:
        """Listens on ``host`` only (bind it to the cell network's interface). Modbus TCP has no security of its
        own: ``allow`` (from ``[modbus] allow``) lists the client addresses or networks that may connect; a
        connection from anywhere else is closed at once, before a request is read. Empty: any client."""
        self.controller = controller
        self.host, self.port = host, int(port)
        self.allow = tuple(allow)
        self.registers = StationRegisters(controller)
        self._loop = LoopThread("line-modbus")
        self._server: Any = None

    def start(self, timeout_s: float = 10.0) -> None:
        _check_port_free(self.host, self.port)
        self._loop.start()
        try:
            self._loop.run(self._start(), timeout_s)
        except Exception as exc:
            self.stop()
            raise PlcServerError(f"The Modbus TCP server could not start on {self.host}:{self.port}: {exc}") from exc

    async def _start(self) -> None:
        server = _server_class(self.allow)(self.registers, address=(self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server
        log.info("Modbus TCP server listening on %s:%d", self.host, self.port)

    def stop(self, timeout_s: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is not None and self._loop.loop is not None:
            try:
                self._loop.run(server.shutdown(), timeout_s)
            except Exception as exc:  # noqa: BLE001
                log.warning("the Modbus server did not stop cleanly: %s", exc)
        self._loop.stop(timeout_s)


def _server_class(allow: tuple[IpNetwork, ...]) -> Any:
    """pymodbus's TCP server, closing each connection whose peer is not in ``allow`` as soon as it is made."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.server.requesthandler import ServerRequestHandler

    if not allow:
        return ModbusTcpServer

    class AllowListHandler(ServerRequestHandler):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if peer else None
            if not client_allowed(host, allow):
                log.warning("Modbus: connection from %s refused: not in [modbus] allow", host)
                self.close()

    class AllowListServer(ModbusTcpServer):
        def callback_new_connection(self) -> Any:
            return AllowListHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)

    return AllowListServer


def _check_port_free(host: str, port: int) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise PlcServerError(
            f"The Modbus TCP server could not start on {host}:{port}: the port is already in use ({exc.strerror}); "
            "choose another [modbus] port"
        ) from exc
    finally:
        probe.close()
