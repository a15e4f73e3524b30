"""`hubspot-rcs key set` and `hubspot-rcs secrets ...`, run through a real argparse parser."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Protocol

import pytest

from protocol.values import GuardedString
from server.conf import load_conf
from server.keyhash import verify_key
from server.properties import load as load_properties
from server.secrets.cli import add_subcommands
from server.secrets.envelope import key_id_of
from server.secrets.jsonedit import replace_value
from server.secrets.keystore import Keystore
from tests.server.conf_samples import (
    SAMPLE_ENV,
    SAMPLE_KEY_HASH,
    confidential,
    copy_conf,
    provisioner,
    write_seed_provisioner,
)


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    return copy_conf(tmp_path)


class Runner(Protocol):
    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]: ...


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """Parse `argv` with the real subcommands and run it: (exit status, stdout, stderr)."""

    def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="hubspot-rcs")
        add_subcommands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status: int = args.func(args)
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


def test_key_set_from_stdin_keeps_the_rest_of_the_file(conf_dir: Path, run: Runner) -> None:
    properties = conf_dir / "ConnectorServer.properties"
    before = properties.read_text(encoding="utf-8").splitlines()
    status, _, err = run("key", "set", "--conf", str(conf_dir), stdin="n3w-shared-key\n")
    assert status == 0
    assert "connectorserver.key set" in err
    stored = load_properties(properties)["connectorserver.key"]
    assert stored.startswith("scrypt$")
    assert verify_key(stored, "n3w-shared-key")
    after = properties.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(f"connectorserver.key={SAMPLE_KEY_HASH}", f"connectorserver.key={stored}")]
    loaded = load_conf(conf_dir, SAMPLE_ENV)
    assert loaded.settings.key_hash == stored
    assert not any("connectorserver.key" in w for w in loaded.warnings)


def test_key_set_from_a_file_or_generated(conf_dir: Path, tmp_path: Path, run: Runner) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(" spaces kept \n", encoding="utf-8")
    assert run("key", "set", "--conf", str(conf_dir), "--key-file", str(key_file))[0] == 0
    stored = load_properties(conf_dir / "ConnectorServer.properties")["connectorserver.key"]
    assert verify_key(stored, " spaces kept ")

    status, out, _ = run("key", "set", "--conf", str(conf_dir), "--generate")
    assert status == 0
    generated = out.strip()
    assert len(generated) >= 43
    stored = load_properties(conf_dir / "ConnectorServer.properties")["connectorserver.key"]
    assert verify_key(stored, generated)


def test_key_set_refuses_an_empty_key_and_a_key_on_the_command_line(
    conf_dir: Path, run: Runner
) -> None:
    assert run("key", "set", "--conf", str(conf_dir), stdin="\n")[0] == 2
    with pytest.raises(SystemExit):
        run("key", "set", "--conf", str(conf_dir), "changeit")


def test_keygen(conf_dir: Path, run: Runner) -> None:
    status, out, err = run("secrets", "keygen", "--conf", str(conf_dir))
    assert status == 0
    first = out.strip()
    assert "created" in err
    keystore = Keystore.load(conf_dir / "keys" / "keystore.json")
    assert keystore.active_id == first

    status, out, _ = run("secrets", "keygen", "--conf", str(conf_dir))
    second = out.strip()
    assert Keystore.load(keystore.path).active_id == first
    status, out, _ = run("secrets", "keygen", "--conf", str(conf_dir), "--activate")
    third = out.strip()
    keystore = Keystore.load(keystore.path)
    assert keystore.key_ids == (first, second, third)
    assert keystore.active_id == third


def test_a_key_added_without_activate_can_be_activated_later(conf_dir: Path, run: Runner) -> None:
    first = run("secrets", "keygen", "--conf", str(conf_dir))[1].strip()
    second = run("secrets", "keygen", "--conf", str(conf_dir))[1].strip()
    path = conf_dir / "keys" / "keystore.json"
    assert Keystore.load(path).active_id == first
    status, _, err = run("secrets", "activate", "--conf", str(conf_dir), second)
    assert status == 0 and second in err
    assert Keystore.load(path).active_id == second
    status, _, err = run("secrets", "activate", "--conf", str(conf_dir), "no-such-key")
    assert status == 1 and "no key 'no-such-key'" in err
    assert Keystore.load(path).active_id == second


def test_encrypt_prints_a_value_the_loader_opens(conf_dir: Path, run: Runner) -> None:
    status, out, _ = run(
        "secrets", "encrypt", "--conf", str(conf_dir), "--file", "hubspot",
        "--property", "clientSecret", stdin="pasted-secret\n",
    )  # fmt: skip
    assert status == 0
    sealed = json.loads(out)
    assert "pasted-secret" not in out
    path = provisioner(conf_dir)
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_value(text, ["configurationProperties", "clientSecret"], sealed))
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    props = loaded.configurations["hubspot"].configurationProperties
    assert props["clientSecret"] == GuardedString("pasted-secret")


def test_encrypt_write_stores_it_in_the_file(conf_dir: Path, tmp_path: Path, run: Runner) -> None:
    value_file = tmp_path / "token"
    value_file.write_text("from-a-file\n", encoding="utf-8")
    status, _, _ = run(
        "secrets", "encrypt", "--conf", str(conf_dir), "--file",
        "provisioner.openicf-hubspot.json", "--property", "refreshToken",
        "--value-file", str(value_file), "--write",
    )  # fmt: skip
    assert status == 0
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    props = loaded.configurations["hubspot"].configurationProperties
    assert props["refreshToken"] == GuardedString("from-a-file")


def test_verify_and_rotate(conf_dir: Path, run: Runner) -> None:
    files = [write_seed_provisioner(conf_dir, name) for name in ("one", "two")]
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    old = Keystore.load(conf_dir / "keys" / "keystore.json").active_id

    status, out, err = run("secrets", "verify", "--conf", str(conf_dir))
    assert status == 0
    assert out.count(": ok\n") == 4
    assert "4 value(s) decrypt, 0 do not" in err

    new = run("secrets", "keygen", "--conf", str(conf_dir), "--activate")[1].strip()
    status, out, err = run("secrets", "rotate", "--conf", str(conf_dir), "--retire")
    assert status == 0
    assert f"4 value(s) re-encrypted with key {new}" in err
    assert f"retired key {old}" in err
    assert Keystore.load(conf_dir / "keys" / "keystore.json").key_ids == (new,)
    for path in files:
        stored = json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]
        assert key_id_of(stored["clientSecret"]) == new
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert loaded.configurations["two"].configurationProperties["refreshToken"] == GuardedString(
        "f37e1132-0000-4000-8000-000000000003"
    )


def test_verify_fails_on_a_tampered_value(conf_dir: Path, run: Runner) -> None:
    path = write_seed_provisioner(conf_dir)
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    document = json.loads(path.read_text(encoding="utf-8"))
    sealed = document["configurationProperties"]["refreshToken"]["$crypto"]["value"]
    sealed["data"] = sealed["data"][:-4] + ("AAA=" if sealed["data"][-4:] != "AAA=" else "BBB=")
    path.write_text(json.dumps(document), encoding="utf-8")
    status, out, err = run("secrets", "verify", "--conf", str(conf_dir))
    assert status == 1
    assert f"{path}: $.configurationProperties.refreshToken (key " in out
    assert "FAILED: does not decrypt" in out
    assert sealed["data"] not in out
    assert "1 do not" in err
    # rotate leaves a file it cannot fully open alone, and says so.
    run("secrets", "keygen", "--conf", str(conf_dir), "--activate")
    before = path.read_bytes()
    assert run("secrets", "rotate", "--conf", str(conf_dir))[0] == 1
    assert path.read_bytes() == before


def test_without_a_keystore(conf_dir: Path, run: Runner) -> None:
    status, _, err = run("secrets", "rotate", "--conf", str(conf_dir))
    assert status == 1
    assert "keystore not found" in err


def test_verify_with_nothing_encrypted_says_so(conf_dir: Path, run: Runner) -> None:
    status, out, err = run("secrets", "verify", "--conf", str(conf_dir))
    assert status == 0 and out == ""
    assert err == (
        f"nothing to verify: no provisioner file in {conf_dir} holds an encrypted value "
        "(plain-text secrets are encrypted when the server loads them)\n"
    )


@pytest.mark.parametrize(
    ("property_name", "says"),
    [
        (
            "clientSecrt",
            "clientSecrt is not a property of configuration 'hubspot': did you mean "
            "clientSecret? its confidential configurationProperties are clientSecret, "
            "refreshToken",
        ),
        (
            "clientId",
            "clientId is a property, but not a confidential one, of configuration 'hubspot': "
            "its confidential configurationProperties are clientSecret, refreshToken",
        ),
    ],
)
def test_encrypt_refuses_a_property_that_is_not_confidential(
    conf_dir: Path, run: Runner, property_name: str, says: str
) -> None:
    before = provisioner(conf_dir).read_bytes()
    status, out, err = run(
        "secrets", "encrypt", "--conf", str(conf_dir), "--file", "hubspot",
        "--property", property_name, "--write", stdin="s3cret",
    )  # fmt: skip
    assert status == 1 and out == ""
    assert err == f"error: {says}\n"
    assert provisioner(conf_dir).read_bytes() == before
    assert not (conf_dir / "keys").exists()  # refused before anything was made


def test_key_set_warns_on_a_short_key(conf_dir: Path, run: Runner) -> None:
    status, _, err = run("key", "set", "--conf", str(conf_dir), stdin="changeit\n")
    assert status == 0
    assert err.splitlines()[0] == (
        "warning: the key has 8 characters; a shared key of 16 or more is much harder to guess "
        "(hubspot-rcs key set --generate makes a random one)"
    )
    status, _, err = run("key", "set", "--conf", str(conf_dir), stdin="x" * 16 + "\n")
    assert status == 0 and "warning" not in err


def test_keystore_option_for_a_mounted_secret(conf_dir: Path, tmp_path: Path, run: Runner) -> None:
    mounted = tmp_path / "secrets" / "rcs-keystore"
    status, out, _ = run("secrets", "keygen", "--conf", str(conf_dir), "--keystore", str(mounted))
    assert status == 0
    assert Keystore.load(mounted).active_id == out.strip()
    write_seed_provisioner(conf_dir)
    loaded = load_conf(
        conf_dir, SAMPLE_ENV | {"RCS_KEYSTORE": str(mounted)}, confidential=confidential
    )
    assert loaded.keystore_path == mounted
    assert not (conf_dir / "keys").exists()
    status, out, _ = run("secrets", "verify", "--conf", str(conf_dir), "--keystore", str(mounted))
    assert status == 0
    assert out.count(": ok\n") == 2


def test_operator_errors_are_one_line_and_status_1(conf_dir: Path, run: Runner) -> None:
    status, _, err = run(
        "secrets", "encrypt", "--conf", str(conf_dir), "--file", "missing",
        "--property", "clientSecret", "--write", stdin="x",
    )  # fmt: skip
    assert status == 1
    assert err.startswith("error: ")
    assert "provisioner.openicf-missing.json" in err
    assert "Traceback" not in err
