"""Headless commands of the station (no Qt)."""
