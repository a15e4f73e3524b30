"""The configuration loader on real files: samples, precedence, substitution, validation, reload."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from pathlib import Path

import pytest

from connector.base import Connector
from connector.configuration import Configuration, Property
from connector.registry import ConnectorRegistry
from protocol.configuration import ConnectorKey
from protocol.values import GuardedString
from server.conf import (
    ConfigurationError,
    RegistryLookup,
    env_name,
    load_conf,
    persist_property,
    property_name,
    reload_conf,
)
from server.keyhash import hash_key
from server.properties import update
from server.secrets import maintenance
from server.secrets.envelope import is_crypto, key_id_of
from server.settings import ServerSettings
from tests.server.conf_samples import (
    HUBSPOT_CONNECTOR,
    REPO_CONF,
    SAMPLE_ENV,
    SAMPLE_KEY_HASH,
    SEED_PROPERTIES,
    confidential,
    copy_conf,
    provisioner,
    write_seed_provisioner,
)


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    return copy_conf(tmp_path)


JAVA_CHANGEIT = "lmA6bMfENJGlIDbfrVtklXFK32s="  # the Java RCS's shipped connectorserver.key


def issues_of(error: pytest.ExceptionInfo[ConfigurationError]) -> list[str]:
    return [str(issue) for issue in error.value.issues]


def test_the_shipped_sample_has_no_key_so_changeit_opens_nothing(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path, with_key=False)
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert issues_of(error) == [
        f"{conf_dir / 'ConnectorServer.properties'}: connectorserver.key: the shared key's hash "
        f"is required; run hubspot-rcs key set --conf {conf_dir}"
    ]


def test_a_java_rcs_changeit_hash_is_named_in_a_warning(conf_dir: Path) -> None:
    update(conf_dir / "ConnectorServer.properties", {"connectorserver.key": JAVA_CHANGEIT})
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert any("default key `changeit`" in w for w in loaded.warnings)


def test_shipped_sample_loads_and_is_left_alone(conf_dir: Path) -> None:
    key_hash = SAMPLE_KEY_HASH
    before = provisioner(conf_dir).read_bytes()
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert loaded.settings == ServerSettings(key_hash=key_hash)
    hubspot = loaded.configurations["hubspot"]
    props = hubspot.configurationProperties
    assert props["clientId"] == "client-id-from-env"
    assert isinstance(props["clientSecret"], GuardedString)
    assert props["clientSecret"].reveal() == "client-secret-from-env"
    assert props["apiBaseUrl"] == "https://api.hubapi.com"
    assert hubspot.connectorRef.connectorHostRef == "rcs"
    assert hubspot.poolConfigOption.maxObjects == 10
    assert (hubspot.producerBufferSize, hubspot.connectorPoolingSupported) == (100, True)
    # Secrets from substitution stay where they are: the file keeps its tokens.
    assert provisioner(conf_dir).read_bytes() == before
    assert loaded.encrypted == ()
    assert loaded.warnings == ()
    assert set(loaded.files) == {conf_dir / "ConnectorServer.properties", provisioner(conf_dir)}
    assert not (conf_dir / "keys").exists()  # no secret needed encrypting: no keystore


def test_secrets_never_show_in_reprs(conf_dir: Path) -> None:
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    text = repr(loaded) + str(loaded.configurations)
    assert "client-secret-from-env" not in text
    assert "refresh-token-from-env" not in text


def test_seed_block_works_as_given_and_is_encrypted_in_place(conf_dir: Path) -> None:
    path = write_seed_provisioner(conf_dir)
    path.chmod(0o640)
    original = path.read_text(encoding="utf-8")
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)

    props = loaded.configurations["seed"].configurationProperties
    for name, value in SEED_PROPERTIES.items():
        if name in ("clientSecret", "refreshToken"):
            assert props[name] == GuardedString(value)
        else:
            assert props[name] == value
    assert sorted(loaded.encrypted) == [
        f"{path}: $.configurationProperties.clientSecret",
        f"{path}: $.configurationProperties.refreshToken",
    ]
    # Rewritten in place: the secrets are $crypto, everything else byte for byte as it was.
    rewritten = path.read_text(encoding="utf-8")
    stored = json.loads(rewritten)["configurationProperties"]
    assert is_crypto(stored["clientSecret"])
    assert is_crypto(stored["refreshToken"])
    assert SEED_PROPERTIES["clientSecret"] not in rewritten
    assert SEED_PROPERTIES["refreshToken"] not in rewritten
    head = original.split('"clientSecret"')[0]
    tail = original.split('"acceptSelfSignedCertificates"')[1]
    assert rewritten.startswith(head)
    assert rewritten.endswith(tail)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    keystore = conf_dir / "keys" / "keystore.json"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore.parent.stat().st_mode) == 0o700
    assert any("keystore created" in w for w in loaded.warnings)

    # The next start decrypts and leaves the file alone.
    again = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert again.configurations["seed"] == loaded.configurations["seed"]
    assert path.read_text(encoding="utf-8") == rewritten
    assert again.encrypted == ()


def test_crypto_values_decrypt_without_a_connector_lookup(conf_dir: Path) -> None:
    write_seed_provisioner(conf_dir)
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    loaded = load_conf(conf_dir, SAMPLE_ENV)
    props = loaded.configurations["seed"].configurationProperties
    assert isinstance(props["clientSecret"], GuardedString)
    assert props["clientSecret"].reveal() == SEED_PROPERTIES["clientSecret"]


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("host", "connectorserver.ifaddress"),
        ("port", "connectorserver.port"),
        ("key_hash", "connectorserver.key"),
        ("use_ssl", "connectorserver.usessl"),
        ("max_connections", "connectorserver.maxConnections"),
        ("drain_timeout_s", "connectorserver.drainTimeoutSeconds"),
        ("tls_client_ca_file", "connectorserver.tlsClientCaFile"),
        ("max_frame_bytes", "connectorserver.maxFrameBytes"),
    ],
)
def test_property_names(field: str, key: str) -> None:
    assert property_name(field) == key


def test_precedence_defaults_then_file_then_environment(conf_dir: Path) -> None:
    update(
        conf_dir / "ConnectorServer.properties",
        {
            "connectorserver.port": "9000",
            "connectorserver.maxConnections": "5",
            "connectorserver.drainTimeoutSeconds": "3.5",
            "connectorserver.useSSL": "true",
            "connectorserver.tlsCertFile": "tls/cert.pem",
            "connectorserver.pingIntervalSeconds": "",
        },
    )
    env = SAMPLE_ENV | {"RCS_PORT": "9100", "RCS_HOST": "0.0.0.0", "RCS_LOG_LEVEL": "debug"}
    settings = load_conf(conf_dir, env).settings
    assert settings.port == 9100  # environment beats the file
    assert settings.host == "0.0.0.0"
    assert settings.max_connections == 5  # the file beats the default
    assert settings.drain_timeout_s == 3.5
    assert settings.use_ssl is True
    assert settings.tls_cert_file == conf_dir / "tls" / "cert.pem"
    assert settings.ping_interval_s is None
    assert settings.log_level == "debug"
    assert settings.close_timeout_s == ServerSettings().close_timeout_s


def test_kubernetes_service_links_are_not_settings(conf_dir: Path) -> None:
    env = SAMPLE_ENV | {
        "RCS_PORT": "tcp://10.96.0.12:8759",
        "RCS_SERVICE_HOST": "10.96.0.12",
        "RCS_PORT_8759_TCP_ADDR": "10.96.0.12",
        "RCS_MAX_CONECTIONS": "3",
    }
    loaded = load_conf(conf_dir, env)
    assert loaded.settings.port == 8759
    assert any("RCS_PORT: looks like a Kubernetes service link" in w for w in loaded.warnings)
    assert any("RCS_MAX_CONECTIONS: not a setting" in w for w in loaded.warnings)
    assert not any("RCS_SERVICE_HOST" in w for w in loaded.warnings)


def test_substitution(conf_dir: Path) -> None:
    path = provisioner(conf_dir)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["configurationProperties"].update(
        {
            "apiBaseUrl": "https://&{api.host}/&{api.prefix|crm}",
            "maximumConnections": {"$int": "&{http.pool|4}"},
            "readSchema": {"$bool": "&{read.schema}"},
            "nested": "&{outer}",
        }
    )
    document["poolConfigOption"]["maxObjects"] = {"$int": "&{pool.size|12}"}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    (conf_dir / "substitution.properties").write_text(
        "api.host=emulator.local:8080\nread.schema=false\nouter=[&{inner}]\ninner=deep\n"
        "hubspot.client.id=from-the-file\n",
        encoding="utf-8",
    )
    env = SAMPLE_ENV | {"API_HOST": "from-env:9"}
    props = load_conf(conf_dir, env).configurations["hubspot"].configurationProperties
    assert props["apiBaseUrl"] == "https://from-env:9/crm"  # environment beats the file
    assert props["maximumConnections"] == 4
    assert props["readSchema"] is False
    assert props["nested"] == "[deep]"
    assert props["clientId"] == "client-id-from-env"
    del env["HUBSPOT_CLIENT_ID"]
    loaded = load_conf(conf_dir, env)
    assert loaded.configurations["hubspot"].configurationProperties["clientId"] == "from-the-file"
    assert loaded.configurations["hubspot"].poolConfigOption.maxObjects == 12
    assert conf_dir / "substitution.properties" in loaded.files


def test_substitution_file_from_the_environment(conf_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "secrets.properties"
    elsewhere.write_text(
        "hubspot.client.id=a\nhubspot.client.secret=b\nhubspot.refresh.token=c\n", encoding="utf-8"
    )
    loaded = load_conf(conf_dir, {"RCS_SUBSTITUTION_FILE": str(elsewhere)})
    assert loaded.configurations["hubspot"].configurationProperties["clientId"] == "a"


def test_unresolved_tokens_name_file_and_path(conf_dir: Path) -> None:
    path = provisioner(conf_dir)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["configurationProperties"]["loop"] = "&{a}"
    document["objectTypes"] = {"contact": {"flags": ["x", "&{missing.flag}"]}}
    path.write_text(json.dumps(document), encoding="utf-8")
    (conf_dir / "substitution.properties").write_text("a=&{b}\nb=&{a}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, {"HUBSPOT_CLIENT_ID": "x"}, confidential=confidential)
    assert issues_of(error) == [
        f"{path}: $.configurationProperties.clientSecret: &{{hubspot.client.secret}} is not set "
        "(environment, substitution file) and has no |default",
        f"{path}: $.configurationProperties.refreshToken: &{{hubspot.refresh.token}} is not set "
        "(environment, substitution file) and has no |default",
        f"{path}: $.configurationProperties.loop: &{{a}} refers to itself",
        f"{path}: $.objectTypes.contact.flags[1]: &{{missing.flag}} is not set "
        "(environment, substitution file) and has no |default",
    ]


def test_every_error_at_once_with_file_and_path(conf_dir: Path) -> None:
    update(
        conf_dir / "ConnectorServer.properties",
        {"connectorserver.port": "99999", "connectorserver.maxConection": "3"},
    )
    path = provisioner(conf_dir)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["poolConfigOption"]["maxObjects"] = 0
    document["operationTimeout"]["SEARCH"] = "soon"
    del document["connectorRef"]["connectorName"]
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    broken = provisioner(conf_dir, "broken")
    broken.write_text('{"connectorRef": {,}', encoding="utf-8")
    unknown = provisioner(conf_dir, "other")
    unknown.write_text(
        json.dumps(
            {
                "connectorRef": {"bundleName": "b", "bundleVersion": "1", "connectorName": "X"},
                "configurationProperties": {},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    properties = conf_dir / "ConnectorServer.properties"
    assert issues_of(error) == [
        f"{properties}: connectorserver.maxConection: unknown key "
        "(did you mean connectorserver.maxConnections?)",
        f"{properties}: connectorserver.port: Input should be less than or equal to 65535",
        f"{broken}: $: not valid JSON: Expecting property name enclosed in double quotes "
        "at line 1 column 19",
        f"{path}: $.poolConfigOption.maxObjects: Input should be greater than or equal to 1",
        f"{path}: $.operationTimeout.SEARCH: Input should be a valid integer",
        f"{path}: $.connectorRef.connectorName: Field required",
        f"{unknown}: $.connectorRef: no installed connector matches X (b 1)",
    ]
    text = str(error.value)
    assert text.startswith("7 configuration errors:\n")
    assert "client-secret-from-env" not in text


def test_pool_bounds_follow_icf(conf_dir: Path) -> None:
    path = provisioner(conf_dir)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["poolConfigOption"] = {"maxObjects": 2, "maxIdle": 5, "minIdle": 6}
    document["resultsHandlerConfig"] = {"enableFilteredResultsHandler": "no"}
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV)
    assert issues_of(error) == [
        f"{path}: $.resultsHandlerConfig.enableFilteredResultsHandler: Input should be a valid "
        "boolean",
        f"{path}: $.poolConfigOption.minIdle: must be <= maxIdle",
        f"{path}: $.poolConfigOption.maxIdle: must be <= maxObjects",
    ]


def test_missing_key_and_client_mode_are_refused(conf_dir: Path) -> None:
    properties = conf_dir / "ConnectorServer.properties"
    properties.write_text(
        "connectorserver.url=wss://idm.example.com/openicf\nconnectorserver.bundleDir=bundles\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV)
    assert issues_of(error) == [
        f"{properties}: connectorserver.url: client mode (the server dialling IDM) is not "
        "supported; remove it and let IDM connect to this server",
        f"{properties}: connectorserver.key: the shared key's hash is required; run "
        f"hubspot-rcs key set --conf {conf_dir}",
    ]


def test_key_hash_from_environment_and_malformed_hash(conf_dir: Path) -> None:
    stored = hash_key("s3cret")
    loaded = load_conf(conf_dir, SAMPLE_ENV | {"RCS_KEY_HASH": stored})
    assert loaded.settings.key_hash == stored
    assert not any("connectorserver.key" in w for w in loaded.warnings)
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV | {"RCS_KEY_HASH": "not-a-hash"})
    assert issues_of(error)[0].startswith("environment: RCS_KEY_HASH: the stored key hash is")


def test_name_in_file_must_match_file_name(conf_dir: Path) -> None:
    path = provisioner(conf_dir)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["name"] = "other"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV)
    assert issues_of(error) == [
        f"{path}: $.name: is 'other', but the file name makes the configuration 'hubspot'"
    ]


def test_reload_reports_changes(conf_dir: Path) -> None:
    first = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    unchanged = reload_conf(first)
    assert unchanged.accepted
    assert (unchanged.added, unchanged.removed, unchanged.changed) == ((), (), ())
    assert unchanged.settings_changed == ()

    write_seed_provisioner(conf_dir, "second")
    update(conf_dir / "ConnectorServer.properties", {"connectorserver.maxConnections": "7"})
    added = reload_conf(first)
    assert added.accepted
    assert added.added == ("second",)
    assert added.settings_changed == ("max_connections",)
    assert added.conf.settings.max_connections == 7

    # A secret that changes is a change, though it never shows.
    changed = reload_conf(added.conf, SAMPLE_ENV | {"HUBSPOT_REFRESH_TOKEN": "rotated"})
    assert changed.changed == ("hubspot",)
    provisioner(conf_dir, "second").unlink()
    removed = reload_conf(changed.conf)
    assert removed.removed == ("second",)


def test_reload_refuses_an_invalid_configuration(conf_dir: Path) -> None:
    first = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    provisioner(conf_dir).write_text("{", encoding="utf-8")
    result = reload_conf(first)
    assert not result.accepted
    assert result.conf is first
    assert [str(i) for i in result.issues] == [
        f"{provisioner(conf_dir)}: $: not valid JSON: Expecting property name enclosed in double "
        "quotes at line 1 column 2"
    ]


def test_persist_property_writes_back_encrypted(conf_dir: Path) -> None:
    path = write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    persist_property(loaded, "seed", "refreshToken", GuardedString("rotated-token"))
    persist_property(loaded, "seed", "permitsPerSecond", "20")
    stored = json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]
    assert is_crypto(stored["refreshToken"])
    assert stored["permitsPerSecond"] == "20"
    assert "rotated-token" not in path.read_text(encoding="utf-8")
    # In memory as on disk: a reload sees nothing new.
    props = loaded.configurations["seed"].configurationProperties
    assert isinstance(props["refreshToken"], GuardedString)
    assert props["refreshToken"].reveal() == "rotated-token"
    assert reload_conf(loaded).changed == ()
    again = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert again.configurations["seed"].configurationProperties["refreshToken"] == GuardedString(
        "rotated-token"
    )


def test_persist_property_encrypts_what_the_connector_calls_confidential(conf_dir: Path) -> None:
    path = write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    persist_property(loaded, "seed", "clientSecret", "plain-str-but-confidential")
    persist_property(loaded, "seed", "brandNew", "value")
    stored = json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]
    assert is_crypto(stored["clientSecret"])
    assert stored["brandNew"] == "value"
    with pytest.raises(KeyError, match="no configuration named 'nope'"):
        persist_property(loaded, "nope", "x", "y")


def test_concurrent_writers_of_one_file_lose_nothing(conf_dir: Path) -> None:
    path = write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    names = [f"p{i}" for i in range(8)]
    threads = [
        threading.Thread(target=persist_property, args=(loaded, "seed", n, GuardedString(n)))
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    props = again.configurations["seed"].configurationProperties
    assert all(props[n] == GuardedString(n) for n in names)
    assert json.loads(path.read_text(encoding="utf-8"))  # still one valid document
    in_memory = loaded.configurations["seed"].configurationProperties
    assert all(in_memory[n] == GuardedString(n) for n in names)
    assert reload_conf(loaded).changed == ()


def test_tracked_conf_is_a_template_only() -> None:
    # The shipped files hold tokens and a Java hash, never a secret or a $crypto value.
    text = (REPO_CONF / "provisioner.openicf-hubspot.json").read_text(encoding="utf-8")
    assert "$crypto" not in text
    assert not (REPO_CONF / "keys").exists()


def test_every_setting_is_documented() -> None:
    guide = (REPO_CONF.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in ServerSettings.model_fields:
        assert f"| `{property_name(name)}` | `{env_name(name)}` | `{name}` |" in guide, name


class _HubspotLikeConfiguration(Configuration):
    clientId: str = Property(required=True)
    clientSecret: GuardedString = Property(required=True, confidential=True)
    refreshToken: GuardedString = Property(required=True, confidential=True)
    apiBaseUrl: str = Property("https://api.hubapi.com")
    acceptSelfSignedCertificates: bool = Property(False)
    readSchema: bool = Property(True)
    disableHostNameVerifier: bool = Property(False)
    maximumConnections: int = Property(10)
    permitsPerSecond: int = Property(10)
    httpProxyHost: str | None = Property(None)
    httpProxyPort: int | None = Property(None)


class _HubspotLikeConnector(Connector):
    connector_key = ConnectorKey(
        bundleName="org.forgerock.openicf.connectors.hubspot-connector",
        bundleVersion="1.5.20.34",
        connectorName=HUBSPOT_CONNECTOR,
    )
    display_name = "HubSpot"
    configuration_class = _HubspotLikeConfiguration


def test_registry_lookup_finds_secrets_and_checks_properties(conf_dir: Path) -> None:
    lookup = RegistryLookup(ConnectorRegistry([_HubspotLikeConnector]))
    path = write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=lookup)
    props = loaded.configurations["seed"].configurationProperties
    assert props["refreshToken"] == GuardedString(SEED_PROPERTIES["refreshToken"])
    assert is_crypto(
        json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]["clientSecret"]
    )

    other = write_seed_provisioner(conf_dir, "other")
    document = json.loads(other.read_text(encoding="utf-8"))
    document["configurationProperties"]["permitsPerSecnd"] = 5
    document["configurationProperties"]["maximumConnections"] = "many"
    document["connectorRef"]["bundleVersion"] = "[2.0,3.0)"
    other.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=lookup)
    assert issues_of(error) == [
        f"{other}: $.connectorRef: no installed connector matches {HUBSPOT_CONNECTOR} "
        "(org.forgerock.openicf.connectors.hubspot-connector [2.0,3.0))",
    ]
    document["connectorRef"]["bundleVersion"] = "[1.5.0.0,1.6.0.0)"
    other.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_conf(conf_dir, SAMPLE_ENV, confidential=lookup)
    assert issues_of(error) == [
        f"{other}: $.configurationProperties.maximumConnections: Input should be a valid "
        "integer, unable to parse string as an integer",
        f"{other}: $.configurationProperties.permitsPerSecnd: Extra inputs are not permitted",
    ]


async def test_persist_property_from_the_event_loop(conf_dir: Path) -> None:
    write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    await asyncio.gather(
        *(
            asyncio.to_thread(persist_property, loaded, "seed", "refreshToken", GuardedString(v))
            for v in ("a", "b", "c")
        )
    )
    final = loaded.configurations["seed"].configurationProperties["refreshToken"]
    again = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    # The last writer to the file is also the last writer in memory.
    assert again.configurations["seed"].configurationProperties["refreshToken"] == final


def test_persist_property_uses_the_keystore_as_it_is_now(conf_dir: Path) -> None:
    path = write_seed_provisioner(conf_dir)
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    assert loaded.keystore is not None
    rotated, new_id = loaded.keystore.with_new_key(activate=True)
    maintenance.rotate([path], rotated)
    rotated.without_key(loaded.keystore.active_id)  # the key the daemon loaded is gone
    persist_property(loaded, "seed", "refreshToken", GuardedString("after-rotation"))
    stored = json.loads(path.read_text(encoding="utf-8"))["configurationProperties"]
    assert key_id_of(stored["refreshToken"]) == new_id
    assert load_conf(conf_dir, SAMPLE_ENV).configurations["seed"].configurationProperties[
        "refreshToken"
    ] == GuardedString("after-rotation")


def test_the_clients_key_variable_is_not_mistaken_for_a_setting(conf_dir: Path) -> None:
    # The README exports RCS_KEY for hubspot-rcs-client in the shell that also runs `serve`.
    loaded = load_conf(conf_dir, SAMPLE_ENV | {"RCS_KEY": "k", "RCS_KEYY": "k"})
    assert not any("RCS_KEY:" in w for w in loaded.warnings)
    assert any("RCS_KEYY: not a setting" in w for w in loaded.warnings)
