"""dialogs of the desktop station."""
