"""The admin's tab: the station's users and its settings."""
