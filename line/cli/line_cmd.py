"""`python main.py line --config station.toml [--check]`: the headless line runner, or a check of its config.

    --check     validate the TOML (unknown keys, wrong types, ports out of range, missing product, a product the
                database does not hold, an endpoint that does not say how it is secured) and print every problem on
                its own line; then opens the camera once and closes it (a camera that is not connected, a wrong
                serial, a GenTL producer that lists none: said now, not at the first part); exit 0 when it is fine
                (then one line per endpoint: how it is secured), 2 if not
    --offline   with --check: leave the camera alone (a config prepared where the camera is not attached, or while
                the running station holds it)
    (default)   run camera, controller, inference, database, PLC servers and MQTT until SIGTERM or SIGINT (Ctrl-C),
                logging to <data dir>/logs/line.log; exit 0 after a clean stop, 1 when it could not start

The config format is in line/config.py and README.md.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli.common import ArgumentParser

if TYPE_CHECKING:
    from line.config import StationConfig

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="main.py line", description="Headless line runner: camera, PLC servers, MQTT, no window.")
    p.add_argument("--config", type=Path, required=True, metavar="station.toml", help="the station config (TOML)")
    p.add_argument(
        "--check", action="store_true", help="validate the config, open the camera once, print what is wrong, exit"
    )
    p.add_argument("--offline", action="store_true", help="with --check: do not open the camera")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from line.config import ConfigError, load_config, security_lines

    try:
        config = load_config(args.config)
        problems = product_problems(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.format(str(args.config)), file=sys.stderr)
        print(f"{args.config}: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check and not args.offline:
        problems += camera_problems(config)
    if problems:
        for line in problems:
            print(f"{args.config}: {line}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(
            f"{args.config}: OK ({summary(config)}{'; camera not opened (--offline)' if args.offline else '; the camera opened'})"
        )
        for sec in security_lines(config):
            print(f"  {sec.endpoint}: {sec.text}" + ("" if sec.secured else "  [not secured]"))
        return EXIT_OK
    return run(config)


def summary(config: StationConfig) -> str:
    parts = [f"product {config.station.product!r}", f"camera {config.camera.source} ({config.camera.trigger.value})"]
    if config.opcua:
        parts.append(f"OPC UA {config.opcua.endpoint}")
    if config.modbus:
        parts.append(f"Modbus {config.modbus.host}:{config.modbus.port}")
    if config.mqtt:
        parts.append(f"MQTT {config.mqtt.host}:{config.mqtt.port} {config.mqtt.topic}")
    return ", ".join(parts)


def product_problems(config: StationConfig) -> list[str]:
    """The configured product checked against the station's database, where that database exists already."""
    from db.engine import DB_FILENAME, default_data_dir
    from db.errors import DatabaseError
    from db.repository import Database

    data_dir = default_data_dir(config.station.data_dir)
    if not config.station.database_url and not (data_dir / DB_FILENAME).is_file():
        return [
            f"[station] product {config.station.product!r}: there is no database in {data_dir} yet; create the "
            "product first (main.py product create NAME --ref GOOD.png ... --data-dir DIR)"
        ]
    try:
        with Database.open(data_dir, url=config.station.database_url, migrate=False) as database:
            names = {p.id: p.name for p in database.products.list()}
    except DatabaseError as exc:
        if "needs" in str(exc):  # an older schema: the runner migrates it at start
            return []
        return [f"[station] the database cannot be read: {exc}"]
    wanted = config.station.product
    if isinstance(wanted, int) and wanted in names:
        return []
    if isinstance(wanted, str) and (
        wanted.lower() in {n.lower() for n in names.values()} or (wanted.isdigit() and int(wanted) in names)
    ):
        return []
    known = ", ".join(f"{pid} {name}" for pid, name in sorted(names.items())) or "none"
    return [f"[station] product {wanted!r} is not in the database in {data_dir} (known: {known})"]


def camera_problems(config: StationConfig) -> list[str]:
    """The configured camera opened once, in the configured trigger mode, and closed again."""
    from line.capture.source import SourceError, open_in_mode
    from line.capture.spec import SourceSpecError, source_from_spec

    spec = config.camera.source
    try:
        source = source_from_spec(spec, cti=str(config.camera.cti) if config.camera.cti else None)
    except SourceSpecError as exc:
        return [f"[camera] source = {spec!r}: {exc}"]
    try:
        open_in_mode(source, config.camera.trigger.value)
    except (SourceError, OSError) as exc:
        return [
            f"[camera] source = {spec!r} cannot be opened: {exc}. Connect the camera (or correct the serial number "
            "or path); if the line runner is running, it holds the camera: check the config with --offline"
        ]
    finally:
        source.close()
    return []


def run(config: StationConfig) -> int:
    from db.engine import default_data_dir
    from db.errors import DatabaseError
    from line.logs import setup_logging
    from line.plc.server_thread import PlcServerError
    from line.runner import LineRunner, RunnerError

    log_path = setup_logging(default_data_dir(config.station.data_dir))
    from line.config import security_lines

    for sec in security_lines(config):  # what runs open is in the log, every start
        (log.info if sec.secured else log.warning)("%s: %s", sec.endpoint, sec.text)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    runner = LineRunner(config)
    try:
        try:
            runner.start()
        except (RunnerError, PlcServerError, DatabaseError, OSError) as exc:
            log.error("the line runner could not start: %s", exc)
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if runner.audit_problem:
            print(f"warning: {runner.audit_problem}", file=sys.stderr, flush=True)
        print(f"line runner running ({summary(config)}); log: {log_path}; stop with SIGTERM or Ctrl-C", flush=True)
        while not stop.wait(0.5):
            pass
        return EXIT_OK
    finally:
        runner.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        logging.shutdown()
