"""A PLC simulator for the OPC UA tests: asyncua's own client reading and writing the station's nodes."""

from __future__ import annotations

import asyncio
import time

from line.plc.opcua_server import NAMESPACE, OBJECT


class Plc:
    def __init__(self, client, idx: int) -> None:
        self.client, self.idx = client, idx

    def node(self, name: str):
        return self.client.get_node(f"ns={self.idx};s={OBJECT}.{name}")

    async def read(self, name: str):
        return await self.node(name).read_value()

    async def write(self, name: str, value, vtype: str) -> None:
        from asyncua import ua

        await self.node(name).write_value(ua.DataValue(ua.Variant(value, getattr(ua.VariantType, vtype))))

    async def wait(self, name: str, value, timeout: float = 5.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if await self.read(name) == value:
                return time.monotonic() - t0
            await asyncio.sleep(0.005)
        raise AssertionError(f"{name} did not become {value!r} within {timeout} s")

    async def trigger(self, part_id: str) -> None:
        await self.write("PartId", part_id, "String")
        await self.write("Trigger", True, "Boolean")


async def with_plc(endpoint: str, body):
    from asyncua import Client

    client = Client(endpoint, timeout=5)
    async with client:
        idx = await client.get_namespace_index(NAMESPACE)
        return await body(Plc(client, idx))
