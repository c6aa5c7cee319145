"""Headless commands of the line side (main.py line, main.py inspect --product)."""
