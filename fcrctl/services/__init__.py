"""Services: work built on the Repository protocol, for any backend (backup, transfer, fixity)."""
