"""Entry point of the inspection station.

    python main.py [--data-dir DIR] [--demo] [--screenshot OUT.png [--frames N]]   the desktop station (default)
    python main.py inspect --ref A.png [--ref B.png ...] IMAGE [--json] [--heatmap OUT.png]
    python main.py inspect --product NAME [--data-dir D] IMAGE [--json]   against a saved product (line/cli)
    python main.py evaluate --data ROOT [--category C ...] --shots K --seeds 0 1 2 [--json OUT]
    python main.py chat --ref R.png IMAGE "question" [--json]
    python main.py chat --product NAME [--data-dir D] [--question Q ...]   a product's history, on a terminal
    python main.py train-prompts [...]
    python main.py line --config station.toml [--check]    the headless line runner (PLC servers, MQTT)
    python main.py report --product P --from D --to D --pdf F --user U --password-stdin   a lot report (PDF)
    python main.py users add|list|disable|enable|role|passwd ...; audit verify|export ...; product create|list|override ...
    python main.py settings list|set KEY VALUE --user ADMIN --password-stdin   the station settings (admin)

Each sub-command lives in its own module; this file only dispatches.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

COMMANDS = {
    "inspect": ("line.cli.inspect_cmd", "main"),  # --product NAME: a saved product; else core's inspect
    "evaluate": ("core.cli.evaluate_cmd", "main"),
    "chat": ("db.cli.chat_cmd", "main"),  # --product without --ref: the history chat; else core's image chat
    "train-prompts": ("core.chat.cli", "train_main"),
    "users": ("db.cli.users_cmd", "main"),
    "audit": ("db.cli.audit_cmd", "main"),
    "product": ("db.cli.product_cmd", "main"),
    "report": ("db.cli.report_cmd", "main"),
    "settings": ("db.cli.settings_cmd", "main"),
    "line": ("line.cli.line_cmd", "main"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        module_name, func_name = COMMANDS[argv[0]]
        args = argv[1:]
    elif argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(__doc__)
        return 0
    else:
        module_name, func_name = "desktop.app", "main"
        args = argv
    import importlib

    module = importlib.import_module(module_name)
    return int(getattr(module, func_name)(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
