"""The hubspot-rcs wire protocol: frames, values and the session state table, with no I/O."""
