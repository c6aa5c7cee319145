"""The history rows as a Qt table model: virtual rows, pages read in the background, lazy thumbnails.

``rowCount()`` is the number of inspections matching the filter (the database's count), but only the pages
the view actually shows are read, ``page_size`` rows at a time, on a background thread; at most ``cache_rows``
rows are kept. A row not read yet shows "Loading..." until its page arrives. So 100 000 rows scroll smoothly.

New inspections pushed by the live station are inserted at the top (``insert_record``) without re-reading;
pages that were in flight at that moment are re-requested at their shifted offsets. Pushed rows count against
the same ``cache_rows`` bound: beyond it the rows farthest from the ones last shown are forgotten (read again
if scrolled to), so a long shift in Auto mode does not grow the memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont

from db.records import HistoryFilter, HistoryPage, InspectionRecord

from .filters import REVIEW_LABELS, matches
from .page_loader import HistoryPageLoader
from .thumbnail_cache import ThumbnailCache

# At most about this many rows (records) are held; the rest are read again when shown. A record costs about 6 kB
# (tests/desktop/test_history_live_memory.py): 5 000 held rows were +30 MB, the memory growth of a shift in Auto.
CACHE_ROWS = 1000

COL_IMAGE, COL_TIME, COL_PRODUCT, COL_VERDICT, COL_SCORE, COL_THRESHOLD, COL_REGIONS, COL_REVIEW = range(8)
HEADERS = ("Image", "Time", "Product", "Verdict", "Score", "Threshold", "Regions", "Review")

RecordRole = int(Qt.ItemDataRole.UserRole) + 1
InspectionIdRole = int(Qt.ItemDataRole.UserRole) + 2

_FAIL_COLOR = QColor(190, 30, 30)
_PASS_COLOR = QColor(20, 120, 50)
_MUTED = QColor(120, 120, 120)


class _Placeholder:
    """A row whose page could not be read (or came back short): shown greyed out, not re-requested."""

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True)
class _Ticket:
    generation: int
    shift: int  # rows inserted at the top when the request left
    offset: int
    limit: int
    reset: bool


def _message(exc: object) -> str:
    return str(exc) or type(exc).__name__


class HistoryTableModel(QAbstractTableModel):
    """Rows of ``InspectionRecord``; ``record_at(row)``; filter with ``set_filter``; ``refresh()`` re-reads."""

    loadStarted = Signal()
    loadFinished = Signal(int)  # rows matching the filter
    loadFailed = Signal(str)  # a message for people
    totalChanged = Signal(int)  # the database now has a different count than the rows shown (other station)

    def __init__(
        self,
        loader: HistoryPageLoader,
        thumbnails: ThumbnailCache | None = None,
        *,
        page_size: int = 100,
        cache_rows: int = CACHE_ROWS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._loader = loader
        self._thumbs = thumbnails
        self._page_size = max(1, int(page_size))
        self._cache_rows = max(self._page_size * 4, int(cache_rows))
        self._filter: HistoryFilter | None = None  # the filter of the rows shown
        self._wanted: HistoryFilter | None = None  # the filter being loaded
        self._rows: dict[int, InspectionRecord | _Placeholder] = {}
        self._total = 0
        self._generation = 0
        self._shift = 0
        self._pending: set[tuple[int, int]] = set()  # (shift, offset) of page requests in flight
        self._loading = False
        self._focus = 0  # the row shown last (the view keeps its scroll position): eviction keeps rows around it
        loader.pageLoaded.connect(self._on_page_loaded)
        loader.pageFailed.connect(self._on_page_failed)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(60)
        self._thumb_timer.timeout.connect(self._repaint_thumbnails)
        if thumbnails is not None:
            thumbnails.thumbnailReady.connect(self._on_thumbnail)
            thumbnails.thumbnailFailed.connect(self._on_thumbnail)

    # -- state --------------------------------------------------------------------------------------------------

    @property
    def current_filter(self) -> HistoryFilter | None:
        return self._wanted

    @property
    def total(self) -> int:
        return self._total

    @property
    def is_loading(self) -> bool:
        return self._loading

    def record_at(self, row: int) -> InspectionRecord | None:
        item = self._rows.get(row)
        return item if isinstance(item, InspectionRecord) else None

    def row_of(self, inspection_id: int) -> int | None:
        for row, item in self._rows.items():
            if isinstance(item, InspectionRecord) and item.id == inspection_id:
                return row
        return None

    @property
    def held_rows(self) -> int:
        """Rows (records and placeholders) held in memory; bounded by ``cache_rows``."""
        return len(self._rows)

    def loaded_records(self) -> list[InspectionRecord]:
        """Rows read so far, in row order (tests and the detail pane)."""
        return [item for _, item in sorted(self._rows.items()) if isinstance(item, InspectionRecord)]

    # -- loading ------------------------------------------------------------------------------------------------

    def set_filter(self, f: HistoryFilter) -> None:
        """Show the rows of ``f`` (newest first). The rows shown stay until the first page of the new filter is in."""
        self._wanted = dataclasses.replace(f, newest_first=True, limit=None, offset=0)
        self._start_reset()

    @Slot()
    def refresh(self) -> None:
        """Read the current filter again (count and first page)."""
        if self._wanted is not None:
            self._start_reset()

    def _start_reset(self) -> None:
        assert self._wanted is not None
        self._generation += 1
        self._pending.clear()
        self._loader.cancel_queued()
        self._loading = True
        self.loadStarted.emit()
        self._loader.request(
            self._wanted, 0, self._page_size, _Ticket(self._generation, self._shift, 0, self._page_size, True)
        )

    def _request_row(self, row: int) -> None:
        if self._loading or self._wanted is None:
            return  # the first page of a new filter is on its way; rows are requested again after the reset
        offset = row - row % self._page_size
        key = (self._shift, offset)
        if key in self._pending:
            return
        self._pending.add(key)
        self._loader.request(
            self._wanted,
            offset,
            self._page_size,
            _Ticket(self._generation, self._shift, offset, self._page_size, False),
        )

    @Slot(object, object)
    def _on_page_loaded(self, ticket: object, page: object) -> None:
        if not isinstance(ticket, _Ticket) or ticket.generation != self._generation:
            return
        assert isinstance(page, HistoryPage)
        self._pending.discard((ticket.shift, ticket.offset))
        if ticket.reset:
            self.beginResetModel()
            self._filter = self._wanted
            self._rows = dict(enumerate(page.records))
            self._total = int(page.total)
            self._shift = 0
            self._pending.clear()
            self._loading = False
            self.endResetModel()
            self.loadFinished.emit(self._total)
            return
        delta = self._shift - ticket.shift
        if delta:
            # Rows were inserted at the top while this page was in flight: ask again at the shifted offset.
            offset = ticket.offset + delta
            key = (self._shift, offset)
            if key not in self._pending:
                self._pending.add(key)
                self._loader.request(
                    self._wanted,
                    offset,
                    ticket.limit,
                    _Ticket(self._generation, self._shift, offset, ticket.limit, False),
                )
            return
        last = min(self._total, ticket.offset + ticket.limit)
        for i in range(ticket.offset, last):
            k = i - ticket.offset
            self._rows[i] = page.records[k] if k < len(page.records) else _Placeholder("(no longer in the database)")
        if int(page.total) != self._total:
            self.totalChanged.emit(int(page.total))
        if not self._ordered_around(ticket.offset, last):
            # The database changed between a page's query and an insertion at the top: the rows read so far no
            # longer line up. Forget them; the rows on screen are read again.
            self._invalidate()
            return
        if last > ticket.offset:
            self.dataChanged.emit(self.index(ticket.offset, 0), self.index(last - 1, len(HEADERS) - 1))
        self._evict(around=ticket.offset)

    @Slot(object, object)
    def _on_page_failed(self, ticket: object, exc: object) -> None:
        if not isinstance(ticket, _Ticket) or ticket.generation != self._generation:
            return
        self._pending.discard((ticket.shift, ticket.offset))
        message = _message(exc)
        if ticket.reset:
            self._loading = False
            if self._filter != self._wanted:
                # The rows shown belong to another filter: do not pretend they answer this one.
                self.beginResetModel()
                self._filter = self._wanted
                self._rows, self._total, self._shift = {}, 0, 0
                self.endResetModel()
        elif ticket.shift == self._shift:
            last = min(self._total, ticket.offset + ticket.limit)
            for i in range(ticket.offset, last):
                self._rows.setdefault(i, _Placeholder("(could not be read - press Refresh)"))
            if last > ticket.offset:
                self.dataChanged.emit(self.index(ticket.offset, 0), self.index(last - 1, len(HEADERS) - 1))
        self.loadFailed.emit(message)

    def _ordered_around(self, first: int, end: int) -> bool:
        """Rows first..end-1 and their cached neighbours are strictly newest-first (no row read twice)."""
        previous: InspectionRecord | None = None
        for row in range(max(0, first - 1), min(self._total, end + 1)):
            item = self._rows.get(row)
            if not isinstance(item, InspectionRecord):
                previous = None
                continue
            if previous is not None and not (previous.time, previous.id) > (item.time, item.id):
                return False
            previous = item
        return True

    def _invalidate(self) -> None:
        self._generation += 1
        self._pending.clear()
        self._loader.cancel_queued()
        self._rows.clear()
        if self._total:
            self.dataChanged.emit(self.index(0, 0), self.index(self._total - 1, len(HEADERS) - 1))

    def _evict(self, around: int) -> None:
        if len(self._rows) <= self._cache_rows:
            return
        half = self._cache_rows // 2
        lo, hi = around - half, around + half
        for row in [r for r in self._rows if r < lo or r > hi]:
            del self._rows[row]

    # -- pushes from the station and review actions ---------------------------------------------------------------

    def insert_record(self, record: InspectionRecord) -> bool:
        """Put a just-recorded inspection at the top when it belongs there. False: the caller should refresh()."""
        if self._loading or self._filter is None:
            return False
        if self.row_of(record.id) is not None:
            self.update_record(record)
            return True
        if not matches(self._filter, record):
            return True  # not for this list; nothing to do
        top = self._rows.get(0)
        if self._total > 0 and not (
            isinstance(top, InspectionRecord) and (record.time, record.id) > (top.time, top.id)
        ):
            return False
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows = {row + 1: item for row, item in self._rows.items()}
        self._rows[0] = record
        self._total += 1
        self._shift += 1
        self.endInsertRows()
        self._evict(around=self._focus)
        return True

    def update_record(self, record: InspectionRecord) -> int | None:
        """Replace the row showing ``record.id`` (e.g. after a review). Returns its row, or None if not shown."""
        row = self.row_of(record.id)
        if row is None:
            return None
        self._rows[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        return row

    # -- thumbnails ---------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_thumbnail(self, *_args: object) -> None:
        if not self._thumb_timer.isActive():
            self._thumb_timer.start()

    @Slot()
    def _repaint_thumbnails(self) -> None:
        if self._total:
            self.dataChanged.emit(
                self.index(0, COL_IMAGE), self.index(self._total - 1, COL_IMAGE), [Qt.ItemDataRole.DecorationRole]
            )

    # -- QAbstractTableModel ------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            item = self._rows.get(section)
            return f"#{item.id}" if isinstance(item, InspectionRecord) else ""
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < self._total):
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            self._focus = row
        item = self._rows.get(row)
        if item is None:
            if role == Qt.ItemDataRole.DisplayRole:
                self._request_row(row)
                return "Loading..." if col == COL_TIME else ""
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(_MUTED)
            return None
        if isinstance(item, _Placeholder):
            if role == Qt.ItemDataRole.DisplayRole:
                return item.text if col == COL_TIME else ""
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(_MUTED)
            return None
        return self._record_data(item, col, role)

    def _record_data(self, rec: InspectionRecord, col: int, role: int) -> Any:
        if role == RecordRole:
            return rec
        if role == InspectionIdRole:
            return rec.id
        if role == Qt.ItemDataRole.DisplayRole:
            return _display_text(rec, col)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_IMAGE and self._thumbs is not None:
            return self._thumbs.thumbnail(str(rec.image_file))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(rec, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_VERDICT:
                return QBrush(_FAIL_COLOR if rec.verdict == "FAIL" else _PASS_COLOR)
            if col == COL_REVIEW and rec.review_status == "none":
                return QBrush(_MUTED)
            return None
        if role == Qt.ItemDataRole.FontRole and col == COL_VERDICT:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_SCORE, COL_THRESHOLD, COL_REGIONS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.SizeHintRole and col == COL_IMAGE and self._thumbs is not None:
            return self._thumbs.size
        return None

    def _tooltip(self, rec: InspectionRecord, col: int) -> str | None:
        if col == COL_IMAGE and self._thumbs is not None:
            failure = self._thumbs.failure(str(rec.image_file))
            if failure:
                return f"The stored image cannot be shown: {failure}"
        if col == COL_THRESHOLD and rec.threshold_overridden:
            return "A threshold override set by an engineer (not the automatic calibration)"
        if col == COL_REGIONS and rec.regions:
            return ", ".join(loc for loc in rec.region_locations if loc)
        return rec.source_name or None


def _display_text(rec: InspectionRecord, col: int) -> str | None:
    if col == COL_TIME:
        return rec.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if col == COL_PRODUCT:
        return rec.product_name
    if col == COL_VERDICT:
        return rec.verdict
    if col == COL_SCORE:
        return f"{rec.score:.4g}"
    if col == COL_THRESHOLD:
        return f"{rec.threshold:.4g}" + (" *" if rec.threshold_overridden else "")
    if col == COL_REGIONS:
        return str(len(rec.regions))
    if col == COL_REVIEW:
        return REVIEW_LABELS.get(rec.review_status, rec.review_status)
    return None


__all__ = [
    "COL_IMAGE",
    "COL_PRODUCT",
    "COL_REGIONS",
    "COL_REVIEW",
    "COL_SCORE",
    "COL_THRESHOLD",
    "COL_TIME",
    "COL_VERDICT",
    "HEADERS",
    "HistoryTableModel",
    "InspectionIdRole",
    "RecordRole",
]
