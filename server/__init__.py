"""The connector server daemon.

- `app`: `ConnectorServer`, owning settings, connectors, configurations, pools and sockets;
  the listener, the upgrade's checks, admission, drain.
- `auth`: the shared key on the upgrade (Basic or Bearer), slowed down after failures.
- `connection`: one socket's reader, a task per operation, cancel.
- `dispatch`: an operation on a connector instance, and search / sync streaming.
- `pool`: connector instances per configuration, with ICF's `poolConfigOption` rules.
- `logs`: structlog to stdout, with redaction.
- `cli`: the `hubspot-rcs` command.
- `settings`, `conf`, `keyhash`, `properties`, `secrets`: configuration and secrets at rest.
"""
