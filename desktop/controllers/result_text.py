"""One-paragraph text of a result for the chat transcript (the measured facts, nothing invented)."""

from __future__ import annotations

from core.result import FAIL, InspectionResult


def describe_result(result: InspectionResult, product_name: str = "", record_id: int | None = None) -> str:
    head = f"{result.verdict}"
    if product_name:
        head += f" ({product_name}"
        head += f", inspection #{record_id})" if record_id is not None else ")"
    text = (
        f"{head}: defect probability {result.probability * 100:.1f} %, "
        f"score {result.score:.3f} against threshold {result.threshold:.3f}."
    )
    if result.verdict == FAIL and result.regions:
        places = "; ".join(f"{r.location} ({r.area_pct:.1f} % of the part)" for r in result.regions)
        count = len(result.regions)
        text += f" {count} defect region{'s' if count != 1 else ''}: {places}."
    elif result.verdict == FAIL:
        text += " No single region stands out; the whole part differs from the references."
    else:
        text += " No defect region found."
    return text
