"""The Modbus register map of the station (docs/plc.md prints the same table; a test compares them).

Addresses are 0-based protocol addresses (the PLC's 00001 / 10001 / 30001 / 40001 are address 0 of each table).
Texts are ASCII, two characters per register (high byte first), padded with NUL. 32-bit numbers take two
registers, high word first. The probability is in units of 0.01 % (0-10000).
"""

from __future__ import annotations

from dataclasses import dataclass

from line.plc.signals import MAX_PART_ID, PlcSignals

PART_ID_REGS = MAX_PART_ID // 2  # 16
ERROR_TEXT_CHARS = 64
ERROR_TEXT_REGS = ERROR_TEXT_CHARS // 2  # 32


@dataclass(frozen=True)
class Entry:
    table: str  # coil, discrete, holding, input
    address: int
    count: int
    name: str
    kind: str  # bool, uint16, uint32, text
    meaning: str


MAP: tuple[Entry, ...] = (
    Entry(
        "coil", 0, 1, "Trigger", "bool", "PLC sets it after writing PartId; the station takes the part and resets it"
    ),
    Entry("coil", 1, 1, "ResultAck", "bool", "PLC sets it once it has read the result; the station resets it"),
    Entry("discrete", 0, 1, "Ready", "bool", "a trigger would be taken now"),
    Entry("discrete", 1, 1, "Busy", "bool", "a part is being acquired, inspected and recorded"),
    Entry("discrete", 2, 1, "ResultReady", "bool", "the result is recorded in the database and waits for ResultAck"),
    Entry("discrete", 3, 1, "ResultOK", "bool", "the last result is PASS"),
    Entry("discrete", 4, 1, "ResultNG", "bool", "the last result is FAIL"),
    Entry("discrete", 5, 1, "Error", "bool", "State is Error (ErrorCode says why)"),
    Entry("holding", 0, PART_ID_REGS, "PartId", "text", "the next part's id (up to 32 ASCII characters)"),
    Entry("holding", 16, 1, "RecipeId", "uint16", "write: switch to this product (recipe) id; read: the one in use"),
    Entry("input", 0, 1, "State", "uint16", "0 Idle, 1 Ready, 2 Busy, 3 ResultReady, 4 Error"),
    Entry("input", 1, 1, "ErrorCode", "uint16", "0 none, else the error-code table"),
    Entry("input", 2, 1, "Probability", "uint16", "defect probability of the last result, 0.01 % units"),
    Entry("input", 3, 2, "CountTotal", "uint32", "parts recorded this shift"),
    Entry("input", 5, 2, "CountOK", "uint32", "of which PASS"),
    Entry("input", 7, 2, "CountNG", "uint32", "of which FAIL"),
    Entry("input", 9, 2, "InspectionId", "uint32", "database id of the last result"),
    Entry("input", 11, 1, "RecipeId", "uint16", "the product (recipe) in use"),
    Entry("input", 12, PART_ID_REGS, "ResultPartId", "text", "the part id of the last result"),
    Entry("input", 28, ERROR_TEXT_REGS, "ErrorText", "text", "the error in words (first 64 characters)"),
)

SIZES = {
    table: max(e.address + e.count for e in MAP if e.table == table)
    for table in ("coil", "discrete", "holding", "input")
}


def text_to_registers(text: str, registers: int) -> list[int]:
    data = text.encode("ascii", "replace")[: registers * 2].ljust(registers * 2, b"\0")
    return [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]


def registers_to_text(values: list[int]) -> str:
    data = b"".join(bytes([(v >> 8) & 0xFF, v & 0xFF]) for v in values)
    return data.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def u32(value: int) -> list[int]:
    value = max(0, int(value)) & 0xFFFFFFFF
    return [value >> 16, value & 0xFFFF]


def discrete_inputs(s: PlcSignals) -> list[bool]:
    return [s.ready, s.busy, s.result_ready, s.result_ok, s.result_ng, s.state == 4]


def input_registers(s: PlcSignals) -> list[int]:
    regs = [s.state, s.error_code, max(0, min(10000, round(s.probability * 10000)))]
    regs += u32(s.count_total) + u32(s.count_ok) + u32(s.count_ng) + u32(s.inspection_id) + [s.recipe_id & 0xFFFF]
    regs += text_to_registers(s.result_part_id, PART_ID_REGS) + text_to_registers(s.error_text, ERROR_TEXT_REGS)
    assert len(regs) == SIZES["input"]
    return regs


def markdown_table() -> str:
    rows = ["| table | address | registers | signal | type | meaning |", "|---|---|---|---|---|---|"]
    for e in MAP:
        rows.append(f"| {e.table} | {e.address} | {e.count} | `{e.name}` | {e.kind} | {e.meaning} |")
    return "\n".join(rows)
