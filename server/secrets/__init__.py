"""Secrets at rest: the keystore, `$crypto` values, and the `hubspot-rcs secrets` commands.

- `keystore`: AES-256 keys with ids in one private file; the active key encrypts, all decrypt.
- `envelope`: a value sealed with AES-GCM in IDM's `$crypto` shape, bound to its file and path.
- `jsonedit`: replace one value in a JSON file's text, so a rewrite keeps the operator's layout.
- `maintenance`: rotate every value to the active key, verify that every value opens.
- `cli`: `hubspot-rcs key set` and `hubspot-rcs secrets keygen|encrypt|rotate|verify`.

The loader (`server.conf`) encrypts plain-text confidential values it finds and decrypts `$crypto`
values into `GuardedString`s; docs/configuration.md is the operator's guide.
"""
