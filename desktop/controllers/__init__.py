"""controllers of the desktop station."""
