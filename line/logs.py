"""The line runner's log: a rotating file in the data folder (``<data dir>/logs/line.log``, 5 x 5 MB) and stderr."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FOLDER = "logs"
LOG_FILE = "line.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(data_dir: Path, level: int = logging.INFO, stderr: bool = True) -> Path:
    folder = Path(data_dir) / LOG_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_line_runner", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler._line_runner = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if stderr:
        err = logging.StreamHandler()
        err.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        err._line_runner = True  # type: ignore[attr-defined]
        root.addHandler(err)
    for noisy in ("asyncua", "pymodbus", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
