"""views of the desktop station."""
