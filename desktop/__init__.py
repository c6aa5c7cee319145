"""The desktop station: the PySide6 face of the inspection library (live view, verdict, chat, history)."""
