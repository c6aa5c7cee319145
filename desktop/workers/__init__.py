"""workers of the desktop station."""
