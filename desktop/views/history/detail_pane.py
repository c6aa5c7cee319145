"""Everything about one inspection: summary, image / heatmap with the regions, the regions list, the chat
transcript and the review actions."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QListWidget, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from db.records import ChatMessageInfo, InspectionRecord

from .filters import REVIEW_LABELS
from .inspection_image_view import InspectionImageView
from .review_panel import ReviewPanel

ROLE_NAMES = {"user": "Operator", "assistant": "Assistant", "system": "Station"}


def region_text(index: int, region: Any) -> str:
    """One line of the regions list, e.g. ``1. top left - 2.35 % of the part, peak 0.871``."""
    if not isinstance(region, dict):
        return f"{index}. (unreadable region)"
    location = str(region.get("location") or "unknown place")
    parts = [f"{index}. {location}"]
    details = []
    area = region.get("area_pct")
    if isinstance(area, (int, float)):
        details.append(f"{area:.2f} % of the part")
    peak = region.get("peak")
    if isinstance(peak, (int, float)):
        details.append(f"peak {peak:.3g}")
    bbox = region.get("bbox")
    if isinstance(bbox, (list, tuple)) and len(bbox) == 4:
        details.append("box " + ", ".join(str(int(v)) for v in bbox))
    return parts[0] + (" - " + ", ".join(details) if details else "")


class InspectionDetailPane(QWidget):
    """``show_inspection(record, image_path, heatmap_path, messages, chat_error)``; ``clear()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._record: InspectionRecord | None = None
        self.summary = QLabel(self)
        self.summary.setObjectName("inspectionSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image_view = InspectionImageView(self)
        self.regions_list = QListWidget(self)
        self.regions_list.setObjectName("regionsList")
        self.transcript = QTextBrowser(self)
        self.transcript.setObjectName("chatTranscript")
        self.transcript.setOpenLinks(False)
        self.review_panel = ReviewPanel(self)

        regions_box = QGroupBox("Defect regions", self)
        QVBoxLayout(regions_box).addWidget(self.regions_list)
        chat_box = QGroupBox("Chat about this inspection", self)
        QVBoxLayout(chat_box).addWidget(self.transcript)
        review_box = QGroupBox("Review", self)
        QVBoxLayout(review_box).addWidget(self.review_panel)

        lower = QSplitter(Qt.Orientation.Vertical, self)
        lower.addWidget(regions_box)
        lower.addWidget(chat_box)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.image_view)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([420, 260])  # the picture gets the larger share

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addWidget(review_box)
        self.regions_list.currentRowChanged.connect(self._region_selected)
        self.clear()

    @property
    def record(self) -> InspectionRecord | None:
        return self._record

    def clear(self) -> None:
        self._record = None
        self.summary.setText("<i>Select an inspection in the list.</i>")
        self.image_view.clear()
        self.regions_list.clear()
        self.transcript.clear()
        self.review_panel.set_record(None)

    def show_inspection(
        self,
        record: InspectionRecord,
        image_path: Path | None,
        heatmap_path: Path | None,
        messages: Sequence[ChatMessageInfo] | None,
        chat_error: str = "",
    ) -> None:
        same = self._record is not None and self._record.id == record.id
        self._record = record
        self.summary.setText(self._summary_html(record))
        if not same:
            self.image_view.show_inspection(
                image_path, heatmap_path, record.regions, QSize(record.width, record.height)
            )
            self.regions_list.clear()
            if record.regions:
                for i, region in enumerate(record.regions, start=1):
                    self.regions_list.addItem(region_text(i, region))
            else:
                self.regions_list.addItem("No defect regions." if record.verdict == "PASS" else "No regions recorded.")
        self.set_messages(messages, chat_error)
        self.review_panel.set_record(record)

    def update_record(self, record: InspectionRecord) -> None:
        """The same inspection changed (a review): refresh the summary and the review state only."""
        if self._record is not None and self._record.id == record.id:
            self._record = record
            self.summary.setText(self._summary_html(record))
            self.review_panel.set_record(record)

    def set_messages(self, messages: Sequence[ChatMessageInfo] | None, error: str = "") -> None:
        if error:
            self.transcript.setHtml(f"<p style='color:#a00'>{html.escape(error)}</p>")
            return
        if not messages:
            self.transcript.setHtml("<p style='color:#777'><i>No questions were asked about this inspection.</i></p>")
            return
        blocks = []
        for m in messages:
            who = ROLE_NAMES.get(m.role, m.role.title())
            when = m.time.astimezone().strftime("%H:%M:%S")
            text = html.escape(m.text).replace("\n", "<br>")
            blocks.append(f"<p><b>{who}</b> <span style='color:#777'>{when}</span><br>{text}</p>")
        self.transcript.setHtml("".join(blocks))

    # -- read back ---------------------------------------------------------------------------------------------

    def region_texts(self) -> list[str]:
        return [self.regions_list.item(i).text() for i in range(self.regions_list.count())]

    def transcript_text(self) -> str:
        return self.transcript.toPlainText()

    def summary_text(self) -> str:
        return self.summary.text()

    # -- internals ---------------------------------------------------------------------------------------------

    @Slot(int)
    def _region_selected(self, row: int) -> None:
        if self._record is not None and 0 <= row < len(self._record.regions):
            self.image_view.select_region(row)
        else:
            self.image_view.select_region(None)

    @staticmethod
    def _summary_html(r: InspectionRecord) -> str:
        color = "#b01e1e" if r.verdict == "FAIL" else "#147832"
        when = r.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        threshold = f"{r.threshold:.4g}" + (" (an override, not the calibration)" if r.threshold_overridden else "")
        source = f" &middot; {html.escape(r.source_name)}" if r.source_name else ""
        source += f" &middot; at the window: {html.escape(r.operator)}" if r.operator else ""
        review = REVIEW_LABELS.get(r.review_status, r.review_status)
        return (
            f"<b>#{r.id}</b> &middot; {when} &middot; {html.escape(r.product_name)}{source}<br>"
            f"<span style='color:{color}; font-weight:bold; font-size:large'>{r.verdict}</span>"
            f" &nbsp; defect probability {r.probability:.1%} &middot; score {r.score:.4g} &middot; threshold {threshold}"
            f"<br>{len(r.regions)} region(s) &middot; {review}"
        )


__all__ = ["InspectionDetailPane", "region_text"]
