"""qt of the desktop station."""
