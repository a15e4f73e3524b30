"""Registry: version ranges resolved as IDM does, and discovery through entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.base import Connector
from connector.configuration import Configuration
from connector.registry import ConnectorRegistry, VersionRange, parse_version
from protocol.configuration import ConnectorKey
from protocol.errors import ConfigurationException, ConnectorException


@pytest.mark.parametrize(
    ("spec", "version", "inside"),
    [
        ("1.5.20.34", "1.5.20.34", True),
        ("1.5.20.34", "1.5.20.35", False),
        ("1.5", "1.5.0.0", True),
        ("[1.5.0.0,1.6.0.0)", "1.5.20.34", True),
        ("[1.5.0.0,1.6.0.0)", "1.5.0.0", True),
        ("[1.5.0.0,1.6.0.0)", "1.6.0.0", False),
        ("[1.5.0.0,1.6.0.0]", "1.6", True),
        ("(1.5,2)", "1.5", False),
        ("(1.5,2)", "1.5.0.1", True),
        ("[1.5,2)", "2.0.0.0", False),
        ("[1.5,)", "99", True),
        (" [ 1.5 , 2 ) ", "1.9.9", True),
    ],
)
def test_version_ranges(spec: str, version: str, inside: bool) -> None:
    assert (parse_version(version) in VersionRange.parse(spec)) is inside


def test_a_malformed_version_is_named() -> None:
    with pytest.raises(ConfigurationException, match=r"not a version: '1\.x'"):
        VersionRange.parse("1.x")


def make(version: str, name: str = "org.example.Sample") -> type[Connector]:
    class Sample(Connector):
        connector_key = ConnectorKey(
            bundleName="org.example.sample", bundleVersion=version, connectorName=name
        )
        display_name = "Sample"
        configuration_class = Configuration

    return Sample


def test_the_highest_version_in_range_wins() -> None:
    old, new, next_major = make("1.5.2.0"), make("1.5.20.34"), make("1.6.0.0")
    registry = ConnectorRegistry([old, new, next_major])
    key = ConnectorKey(
        bundleName="org.example.sample",
        bundleVersion="[1.5.0.0,1.6.0.0)",
        connectorName="org.example.Sample",
    )
    assert registry.resolve(key) is new
    assert registry.resolve(key.model_copy(update={"bundleVersion": "1.5.2.0"})) is old


@pytest.mark.parametrize(
    "change",
    [{"bundleVersion": "[2,3)"}, {"connectorName": "org.example.Other"}, {"bundleName": "x"}],
)
def test_no_match_is_connector_not_found(change: dict[str, str]) -> None:
    registry = ConnectorRegistry([make("1.5.20.34")])
    key = make("1.5.20.34").connector_key.model_copy(update=change)
    with pytest.raises(ConnectorException, match="Connector not found"):
        registry.resolve(key)


def test_the_same_key_twice_is_refused() -> None:
    with pytest.raises(ConfigurationException, match="registered twice"):
        ConnectorRegistry([make("1.0"), make("1.0")])


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[Path]:
    """A real distribution on sys.path whose entry point names a connector."""
    (tmp_path / "rcs_sample_plugin.py").write_text(
        "from connector.base import Connector\n"
        "from connector.configuration import Configuration\n"
        "from protocol.configuration import ConnectorKey\n"
        "class PluginConnector(Connector):\n"
        "    connector_key = ConnectorKey(bundleName='org.example.plugin',\n"
        "        bundleVersion='2.0.1.0', connectorName='org.example.PluginConnector')\n"
        "    display_name = 'Plugin'\n"
        "    configuration_class = Configuration\n"
        "NOT_A_CONNECTOR = 42\n"
    )
    dist = tmp_path / "rcs_sample_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rcs-sample-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[hubspot_rcs.connectors]\nplugin = rcs_sample_plugin:PluginConnector\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield dist
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("rcs_sample_plugin", None)


def test_discovery_through_entry_points(installed_plugin: Path) -> None:
    registry = ConnectorRegistry.discover()
    key = ConnectorKey(
        bundleName="org.example.plugin",
        bundleVersion="[2,3)",
        connectorName="org.example.PluginConnector",
    )
    assert registry.resolve(key).display_name == "Plugin"


def test_an_entry_point_that_is_not_a_connector_is_refused(installed_plugin: Path) -> None:
    (installed_plugin / "entry_points.txt").write_text(
        "[hubspot_rcs.connectors]\nbroken = rcs_sample_plugin:NOT_A_CONNECTOR\n"
    )
    with pytest.raises(ConfigurationException, match="is not a Connector class"):
        ConnectorRegistry.discover()
