"""The audit trail in the window: filtered list, chain check and exports."""
