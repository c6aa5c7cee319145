"""widgets of the desktop station."""
