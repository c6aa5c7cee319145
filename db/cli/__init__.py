"""Headless commands that need the database: ``main.py users``, ``main.py audit``, ``main.py product``."""
