"""Command line entry point (built by its own issue)."""

import sys


def main() -> int:
    print("client: not built yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
