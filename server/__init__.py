"""The connector server daemon."""
