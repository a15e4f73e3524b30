"""`hubspot-rcs-client sync`: the latest token, the deltas since a token, and `--follow`."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests.client.test_cli import Served, client, lines, served
from tests.conftest import KEY, command

__all__ = ["served"]  # the server fixture, shared with test_cli


def test_latest_token_then_deltas_then_the_next_token(served: Served) -> None:
    [first] = lines(client(served, "sync", "memory", "company"))
    assert set(first) == {"token"}
    [uid] = lines(client(served, "create", "memory", "company", "--attr", "__NAME__=Synced"))
    *deltas, last = lines(
        client(served, "sync", "memory", "company", "--token", str(first["token"]))
    )
    assert [(d["deltaType"], d["uid"]["value"]) for d in deltas] == [("CREATE", uid["value"])]
    assert deltas[0]["connectorObject"]["name"] == "Synced"
    assert last == {"token": deltas[-1]["token"]["value"]}
    assert lines(client(served, "sync", "memory", "company", "--token", str(last["token"]))) == [
        last
    ]


def test_follow_polls_until_ctrl_c(served: Served) -> None:
    follower = subprocess.Popen(
        [*command("hubspot-rcs-client"), "--url", served.url,
         "sync", "memory", "contact", "--follow", "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"RCS_KEY": KEY},
    )  # fmt: skip
    assert follower.stdout is not None
    try:
        assert set(json.loads(follower.stdout.readline())) == {"token"}
        [uid] = lines(client(served, "create", "memory", "contact", "--attr", "__NAME__=f@x.org"))
        while True:
            line = json.loads(follower.stdout.readline())
            if "deltaType" in line:
                break
        assert (line["deltaType"], line["uid"]["value"]) == ("CREATE", uid["value"])
        assert set(json.loads(follower.stdout.readline())) == {"token"}
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0
        assert follower.stderr is not None and follower.stderr.read().strip() == "stopped"
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
