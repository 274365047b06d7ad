"""Task systems built in code (no data files): what the built-in tasks simulate."""
