"""The image, built from the Dockerfile and run as a container, in front of the emulator.

No Docker engine is needed: `tools/container-image` makes a Debian base with debootstrap, builds
the Dockerfile with buildah, and the test runs the image with chroot isolation on the host's
network and PID namespace. The test runs the image's own command as its own user with a
configuration directory mounted as an operator would (secrets typed in plain text, the rest from
the environment), checks `/readyz` and the HEALTHCHECK command, talks to it with the client,
stops it with SIGTERM as `docker stop` would, and checks what it left in the mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.connection import RcsClient
from client.queryfilter import parse_query_filter
from emulator import EmulatorSettings, run_emulator
from tests.conftest import KEY, command

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "container-image"
IMAGE = f"localhost/hubspot-rcs:test-{os.getpid()}"
"""Its own tag: builds of other checkouts on the same machine do not replace it under us."""
UID = 10001
CONF = "/opt/rcs/conf"
PROVISIONER = "provisioner.openicf-hubspot.json"

pytestmark = pytest.mark.skipif(
    shutil.which("buildah") is None or shutil.which("debootstrap") is None or os.geteuid() != 0,
    reason="needs buildah and debootstrap, run as root (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def image() -> Iterator[dict[str, Any]]:
    """Build the image (the base once per machine); its configuration, as `config` prints it."""
    env = os.environ | {"RCS_IMAGE": IMAGE}
    try:
        for step in (["base"], ["build", str(ROOT)]):
            result = subprocess.run(
                [str(TOOL), *step],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
                env=env,
            )
            assert result.returncode == 0, f"container-image {step[0]}:\n{result.stderr[-3000:]}"
        spec = subprocess.run(
            [str(TOOL), "config"], capture_output=True, text=True, timeout=60, check=True, env=env
        )
        config: dict[str, Any] = json.loads(spec.stdout)
        yield config
    finally:
        subprocess.run(["buildah", "rmi", IMAGE], capture_output=True, timeout=120, check=False)


@pytest.fixture
def container() -> Iterator[str]:
    name = subprocess.run(
        ["buildah", "from", IMAGE], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    yield name
    subprocess.run(["buildah", "rm", name], capture_output=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (the container shares the host's PID namespace)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone while we looked
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found.extend(below)
        todo.extend(below)
    return found


def server_pid(runner: int) -> int | None:
    for pid in descendants(runner):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # The interpreter itself, not buildah's chroot helpers whose argv carries the same
        # command: `python3 /opt/venv/bin/hubspot-rcs serve --conf ...`
        if os.path.basename(argv[0]).startswith(b"python") and b"serve" in argv:
            return pid
    return None


def ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == http.HTTPStatus.OK
    except OSError:
        return False
    finally:
        connection.close()


def write_conf(conf: Path, client_secret: str, refresh_token: str) -> None:
    """The shipped sample, set up as conf/README.md tells an operator: a key, the secrets."""
    conf.mkdir()
    shutil.copy(ROOT / "conf" / "ConnectorServer.properties", conf)
    subprocess.run(
        [*command("hubspot-rcs"), "key", "set", "--conf", str(conf)],
        input=KEY + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sample = json.loads((ROOT / "conf" / PROVISIONER).read_text())
    properties = sample["configurationProperties"]
    assert properties["clientId"] == "&{hubspot.client.id}"  # stays a token: the environment
    properties.update(clientSecret=client_secret, refreshToken=refresh_token)
    (conf / PROVISIONER).write_text(json.dumps(sample, indent=2))
    for path in [conf, *conf.rglob("*")]:
        os.chown(path, UID, UID)


async def first_smith(url: str) -> tuple[str, list[str]]:
    """`test`, then a filtered search, through the client: the first match's name and surname."""
    query = parse_query_filter('lastname eq "Smith"')
    assert not isinstance(query, bool)
    async with await RcsClient.connect(url, KEY) as client:
        hubspot = await client.facade("hubspot")
        await hubspot.test()
        async with hubspot.search("contact", query, attributesToGet=["lastname"]) as results:
            found = [obj async for obj in results]
    assert found, "no Smith among the emulator's contacts"
    assert found[0].name is not None
    return found[0].name, [str(v) for v in found[0].attributes["lastname"]]


@pytest.mark.timeout(900)
async def test_the_image_serves_hubspot_and_stops_on_sigterm(
    image: dict[str, Any], container: str, tmp_path: Path
) -> None:
    assert image["User"] == f"{UID}:{UID}"
    port = free_port()
    conf = tmp_path / "conf"
    settings = EmulatorSettings(host="127.0.0.1", port=0, contacts=200, companies=20, seed=3)
    async with run_emulator(settings) as emu:
        write_conf(conf, emu.client_secret, emu.refresh_token)
        environment = [
            *image["Env"],  # the image's ENV, as a container engine would apply it
            "RCS_HOST=127.0.0.1",  # the host's network: stay on loopback
            f"RCS_PORT={port}",
            f"RCS_KEYSTORE={CONF}/keys/keystore.json",  # instead of a mounted secret file
            "RCS_LOG_FORMAT=json",
            f"HUBSPOT_CLIENT_ID={emu.client_id}",
            f"HUBSPOT_API_BASE_URL={emu.base_url}",
        ]
        flags = ["--isolation", "chroot", "--user", image["User"]]
        flags += ["--workingdir", image["WorkingDir"], "-v", f"{conf}:{CONF}"]
        for variable in environment:
            flags += ["--env", variable]
        runner = await asyncio.create_subprocess_exec(
            *("buildah", "run", *flags, container, "--"),
            *image["Entrypoint"],
            *image["Cmd"],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while not await asyncio.to_thread(ready, port):
                assert runner.returncode is None, (await runner.communicate())[1].decode()
                assert time.monotonic() < deadline, "no /readyz within 60 s"
                await asyncio.sleep(0.2)

            health = await asyncio.create_subprocess_exec(
                *("buildah", "run", *flags, container, "--"),
                *("hubspot-rcs", "health", "--conf", CONF, "--ready"),
            )
            assert await health.wait() == 0

            name, lastname = await first_smith(f"ws://127.0.0.1:{port}/openicf")
            assert lastname == ["Smith"] and name.endswith(".com")
        finally:
            pid = server_pid(runner.pid)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
            else:
                runner.kill()
            try:
                stdout, stderr = await asyncio.wait_for(runner.communicate(), 60)
            except TimeoutError:  # leave nothing running behind a failed test
                for leftover in [*descendants(runner.pid), runner.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(leftover, signal.SIGKILL)
                raise

    assert pid is not None, "no hubspot-rcs serve process under buildah run"
    assert runner.returncode == 0, stderr.decode()[-3000:]
    events = [json.loads(line)["event"] for line in stdout.decode().splitlines() if line[:1] == "{"]
    assert "server.listening" in events and events[-2:] == ["server.draining", "server.stopped"]

    # What the container left in the mount: the secrets encrypted, the keystore private.
    stored = json.loads((conf / PROVISIONER).read_text())["configurationProperties"]
    assert set(stored["clientSecret"]) == {"$crypto"}
    assert set(stored["refreshToken"]) == {"$crypto"}
    assert stored["clientId"] == "&{hubspot.client.id}"
    keystore = (conf / "keys" / "keystore.json").stat()
    assert (keystore.st_uid, keystore.st_mode & 0o777) == (UID, 0o600)
    for path in conf.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert emu.client_secret.encode() not in text and emu.refresh_token.encode() not in text
