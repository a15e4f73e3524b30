"""`$crypto` values and the keystore: round trips, tampering, key ids, permissions."""

from __future__ import annotations

import base64
import copy
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from server.conf import ConfigurationError, load_conf
from server.secrets.envelope import CIPHER, Place, SecretError, decrypt, encrypt, key_id_of
from server.secrets.keystore import Keystore, KeystoreError
from tests.server.conf_samples import (
    SAMPLE_ENV,
    SEED_PROPERTIES,
    confidential,
    copy_conf,
    write_seed_provisioner,
)

PLACE = Place("provisioner.openicf-hubspot.json", "$.configurationProperties.clientSecret")


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    store, created = Keystore.open(tmp_path / "keys" / "keystore.json")
    assert created
    return store


def test_round_trip_in_idm_shape(keystore: Keystore) -> None:
    sealed = encrypt(keystore, "s3cret ü", PLACE)
    value = sealed["$crypto"]["value"]
    assert sealed["$crypto"]["type"] == "x-simple-encryption"
    assert value["cipher"] == CIPHER == "AES/GCM/NoPadding"
    assert value["stableId"] == keystore.active_id
    assert value["keySize"] == 32
    assert len(base64.b64decode(value["iv"])) == 12
    assert decrypt(keystore, sealed, PLACE) == "s3cret ü"


def test_fresh_nonce_every_time(keystore: Keystore) -> None:
    ivs = {encrypt(keystore, "same", PLACE)["$crypto"]["value"]["iv"] for _ in range(50)}
    assert len(ivs) == 50


def _flip(sealed: dict[str, Any], field: str) -> dict[str, Any]:
    broken = copy.deepcopy(sealed)
    raw = bytearray(base64.b64decode(broken["$crypto"]["value"][field]))
    raw[len(raw) // 2] ^= 0x01
    broken["$crypto"]["value"][field] = base64.b64encode(raw).decode()
    return broken


@pytest.mark.parametrize("field", ["data", "iv"])
def test_a_flipped_bit_is_refused(keystore: Keystore, field: str) -> None:
    sealed = encrypt(keystore, "s3cret", PLACE)
    with pytest.raises(SecretError) as error:
        decrypt(keystore, _flip(sealed, field), PLACE)
    message = str(error.value)
    assert message.startswith(f"{PLACE.file}: {PLACE.path}: does not decrypt with key ")
    assert keystore.active_id in message
    assert "s3cret" not in message
    assert sealed["$crypto"]["value"]["data"] not in message


@pytest.mark.parametrize(
    "elsewhere",
    [
        Place(PLACE.file, "$.configurationProperties.refreshToken"),
        Place("provisioner.openicf-other.json", PLACE.path),
    ],
)
def test_a_ciphertext_moved_elsewhere_is_refused(keystore: Keystore, elsewhere: Place) -> None:
    sealed = encrypt(keystore, "s3cret", PLACE)
    with pytest.raises(SecretError, match="moved from another property or file"):
        decrypt(keystore, sealed, elsewhere)


def test_a_relabelled_key_id_or_purpose_is_refused(keystore: Keystore) -> None:
    keystore, other = keystore.with_new_key(activate=False)
    sealed = encrypt(keystore, "s3cret", PLACE)
    relabelled = copy.deepcopy(sealed)
    relabelled["$crypto"]["value"]["stableId"] = other
    with pytest.raises(SecretError, match=f"does not decrypt with key '{other}'"):
        decrypt(keystore, relabelled, PLACE)
    repurposed = copy.deepcopy(sealed)
    repurposed["$crypto"]["value"]["purpose"] = "idm.password.encryption"
    with pytest.raises(SecretError):
        decrypt(keystore, repurposed, PLACE)


def test_unknown_key_id_names_the_keystore(keystore: Keystore) -> None:
    sealed = encrypt(keystore, "s3cret", PLACE)
    sealed["$crypto"]["value"]["stableId"] = "gone-key"
    with pytest.raises(SecretError) as error:
        decrypt(keystore, sealed, PLACE)
    assert "key 'gone-key', which is not in the keystore" in str(error.value)
    assert str(keystore.path) in str(error.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"$crypto": "x"}, "a $crypto object is"),
        ({"$crypto": {"type": "x-simple-encryption"}}, "$crypto.value must be an object"),
        (
            {"$crypto": {"type": "x-simple-encryption", "value": {"cipher": "AES/GCM/NoPadding"}}},
            "stableId (the key id) is missing",
        ),
        (
            {
                "$crypto": {
                    "type": "x-simple-encryption",
                    "value": {
                        "cipher": "AES/CBC/PKCS5Padding",
                        "stableId": "openidm-sym-default",
                        "keySize": 16,
                    },
                }
            },
            "a value encrypted by IDM must be entered again",
        ),
    ],
)
def test_malformed_crypto_objects(keystore: Keystore, value: dict[str, Any], reason: str) -> None:
    with pytest.raises(SecretError) as error:
        decrypt(keystore, value, PLACE)
    assert reason in error.value.reason


def test_several_keys_active_encrypts_all_decrypt(keystore: Keystore) -> None:
    first_id = keystore.active_id
    old = encrypt(keystore, "old", PLACE)
    keystore, second_id = keystore.with_new_key(activate=True)
    assert keystore.active_id == second_id
    assert keystore.key_ids == (first_id, second_id)
    new = encrypt(keystore, "new", PLACE)
    assert key_id_of(new) == second_id
    reread = Keystore.load(keystore.path)
    assert decrypt(reread, old, PLACE) == "old"
    assert decrypt(reread, new, PLACE) == "new"
    reread = reread.without_key(first_id)
    with pytest.raises(SecretError, match="not in the keystore"):
        decrypt(reread, old, PLACE)
    with pytest.raises(KeystoreError, match="is active"):
        reread.without_key(second_id)


def test_keystore_is_private(keystore: Keystore) -> None:
    assert stat.S_IMODE(keystore.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore.path.parent.stat().st_mode) == 0o700
    assert "material" not in repr(keystore)
    document = json.loads(keystore.path.read_text(encoding="utf-8"))
    assert document["active"] == keystore.active_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_keystore_others_can_read_is_refused(keystore: Keystore, mode: int) -> None:
    keystore.path.chmod(mode)
    with pytest.raises(KeystoreError) as error:
        Keystore.load(keystore.path)
    assert str(error.value).startswith(f"{keystore.path}: mode {mode:04o} lets other users")


def test_load_refuses_a_readable_keystore_naming_it(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    write_seed_provisioner(conf_dir)
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    keystore = conf_dir / "keys" / "keystore.json"
    keystore.chmod(0o644)
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    messages = [str(issue) for issue in error.value.issues]
    assert (
        messages[0]
        == f"{keystore}: mode 0644 lets other users at the keys; run `chmod 600 {keystore}`"
    )
    assert all("refused (see the keystore's own error)" in m for m in messages[1:])
    assert len(messages) == 3


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"version": 2}, "not a version 1 keystore"),
        ({"version": 1, "active": "a", "keys": {}}, "$.keys: must be a non-empty object"),
        (
            {"version": 1, "active": "a", "keys": {"a": {"material": "c2hvcnQ="}}},
            "$.keys.a.material: must be 32 bytes in base64",
        ),
        (
            {"version": 1, "active": "b", "keys": {"a": {"material": "A" * 43 + "="}}},
            "$.active: must name one of the keys",
        ),
    ],
)
def test_malformed_keystore(tmp_path: Path, document: dict[str, Any], reason: str) -> None:
    path = tmp_path / "keystore.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(KeystoreError) as error:
        Keystore.load(path)
    assert str(error.value) == f"{path}: {reason}"


def test_wrong_keystore_refuses_to_start_naming_file_property_and_key(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    path = write_seed_provisioner(conf_dir)
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    used = json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]
    key_id = key_id_of(used["clientSecret"])

    # Another keystore (say, another environment's) mounted in its place.
    other = tmp_path / "other" / "keystore.json"
    Keystore.open(other)
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV | {"RCS_KEYSTORE": str(other)}, confidential=confidential)
    messages = [str(issue) for issue in error.value.issues]
    assert messages == [
        f"{path}: $.configurationProperties.clientSecret: encrypted with key '{key_id}', which "
        f"is not in the keystore {other} (is the right keystore mounted?)",
        f"{path}: $.configurationProperties.refreshToken: encrypted with key '{key_id}', which "
        f"is not in the keystore {other} (is the right keystore mounted?)",
    ]
    for secret in (
        SEED_PROPERTIES["clientSecret"],
        used["clientSecret"]["$crypto"]["value"]["data"],
    ):
        assert secret not in str(error.value)

    # A missing keystore is not silently recreated: its keys are what the values need.
    os.remove(conf_dir / "keys" / "keystore.json")
    with pytest.raises(ConfigurationError, match="keystore not found \\(is it mounted\\?\\)"):
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert not (conf_dir / "keys" / "keystore.json").exists()


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    path = write_seed_provisioner(conf_dir)
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    document = json.loads(path.read_text(encoding="utf-8"))
    props = document["configurationProperties"]
    # Swap the two ciphertexts: each is intact, but bound to the other property.
    props["clientSecret"], props["refreshToken"] = props["refreshToken"], props["clientSecret"]
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert [issue.where for issue in error.value.issues] == [
        "$.configurationProperties.clientSecret",
        "$.configurationProperties.refreshToken",
    ]
    assert all("moved from another property" in issue.message for issue in error.value.issues)


def test_a_keystore_that_cannot_be_created_is_a_configuration_error(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    write_seed_provisioner(conf_dir)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    where = blocker / "keystore.json"
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV | {"RCS_KEYSTORE": str(where)}, confidential=confidential)
    assert [str(i) for i in error.value.issues] == [
        f"{conf_dir / 'provisioner.openicf-seed.json'}: cannot encrypt its secrets: {where}: "
        "cannot create the keystore: Not a directory"
    ]


def test_a_read_only_file_with_plain_secrets_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = copy_conf(tmp_path)
    path = write_seed_provisioner(conf_dir)
    before = path.read_bytes()

    def read_only(target: Path, data: bytes, *, mode: int | None = None) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))

    # A test cannot mount a read-only file system (and root ignores file modes): the write
    # fails here as it would there.
    monkeypatch.setattr("server.conf.provisioner.write_atomic", read_only)
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert [str(i) for i in error.value.issues] == [
        f"{path}: holds clientSecret, refreshToken in plain text and cannot be rewritten "
        "encrypted (Read-only file system); make the file writable, or give the secrets "
        "through &{...} substitution"
    ]
    assert path.read_bytes() == before
