"""Export and import in fcrepo-import-export's format (optionally as a BagIt bag)."""
