"""Legacy objects <-> our models, against the recorded Java conversations."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from protocol import filters as f
from protocol.configuration import ConnectorKey
from protocol.info import ConfigurationPropertyInfo, ConnectorInfo
from protocol.openicf import legacy
from protocol.openicf import objects as o
from protocol.openicf.legacy import JavaMap, LegacyObject
from protocol.openicf.proto.operations_pb2 import OperationRequest, OperationResponse
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from protocol.openicf.wire import WireFormatError, parse_message
from protocol.schema import AttributeFlag, AttributeInfo, AttributeType, ObjectClassInfo, Schema
from protocol.values import (
    AttributeValue,
    ConnectorObject,
    GuardedString,
    OperationName,
    OperationOptions,
    SortKey,
    SyncDelta,
    SyncDeltaType,
    SyncToken,
    Uid,
)
from tests.protocol.openicf.vectors import frames


def _messages(scenario: str) -> Iterator[RemoteMessage]:
    for frame in frames(scenario):
        if frame.opcode == 2:
            yield parse_message(frame.payload)


def _ops(scenario: str) -> list[OperationRequest]:
    return [
        m.request.operationRequest
        for m in _messages(scenario)
        if m.request.HasField("operationRequest")
    ]


def _responses(scenario: str) -> list[OperationResponse]:
    return [
        m.response.operationResponse
        for m in _messages(scenario)
        if m.response.HasField("operationResponse")
    ]


def _same_content(ours: bytes, java: bytes) -> bool:
    """Equal trees once Set and Map order (a Java hash order) is set aside."""
    return o.content_digest(legacy.decode(ours)) == o.content_digest(legacy.decode(java))


def _shape(value: legacy.Value) -> Any:
    """The types and field names of a tree, for comparing what we build with what Java built."""
    match value:
        case LegacyObject():
            return {value.type: {k: _shape(v) for k, v in value.fields.items()}}
        case list():
            return ["List", *sorted({repr(_shape(v)) for v in value})]
        case legacy.JavaSet():
            return ["Set", *sorted({repr(_shape(v)) for v in value.items})]
        case JavaMap():
            return ["Map", *sorted({repr((_shape(k), _shape(v))) for k, v in value.entries})]
    return type(value).__name__


# --- attribute sets and connector objects ----------------------------------------------------


def test_a_recorded_create_decodes_until_a_value_our_model_cannot_hold() -> None:
    create = next(
        op.createOpRequest for op in _ops("04-create-get") if op.HasField("createOpRequest")
    )
    with pytest.raises(WireFormatError, match=r"GuardedByteArray value.*\(at attributes\.pin\)"):
        o.decode_attributes(create.createAttributes)


def test_recorded_scalar_attributes_decode_to_our_values() -> None:
    create = next(
        op.createOpRequest for op in _ops("04-create-get") if op.HasField("createOpRequest")
    )
    tree = legacy.decode(create.createAttributes)
    assert isinstance(tree, legacy.JavaSet)
    scalar = [
        item
        for item in tree.items
        if not (
            isinstance(item, LegacyObject)
            and item.fields.get("name") in ("pin", "photo", "address")
        )
    ]
    attrs = o.attributes_from_legacy(legacy.JavaSet(scalar))
    assert attrs.name == "alice" and attrs.uid is None
    assert attrs.attributes["__PASSWORD__"] == [GuardedString("s3cret")]
    assert attrs.attributes["age"] == [42]
    assert attrs.attributes["employeeNumber"] == [1234567890123]
    assert attrs.attributes["score"] == [3.5] and attrs.attributes["ratio"] == [0.25]
    assert attrs.attributes["initial"] == ["A"]
    assert attrs.attributes["balance"] == ["1234.56"]
    assert attrs.attributes["bigId"] == [123456789012345678901234567890]
    assert attrs.attributes["groups"] == ["admins", "users", "staff"]
    assert attrs.attributes["active"] == [True] and attrs.attributes["__ENABLE__"] == [True]


def test_an_update_with_a_null_values_clears_the_attribute() -> None:
    updates = [op.updateOpRequest for op in _ops("05-update") if op.HasField("updateOpRequest")]
    decoded = [o.decode_attributes(u.replaceAttributes) for u in updates]
    assert any(d.attributes == {"age": []} for d in decoded)
    assert any(d.attributes.get("groups") == ["ops"] for d in decoded)  # addAttributeValues
    assert {u.updateType for u in updates} == {0, 1, 2}


def test_every_recorded_search_hit_decodes_and_reencodes_to_the_same_content() -> None:
    hits = [
        r.searchOpResponse.connectorObject
        for r in _responses("06-search")
        if r.searchOpResponse.HasField("connectorObject")
    ]
    assert len(hits) > 30
    for hit in hits:
        obj = o.connector_object_from_proto(hit)
        assert obj.uid.revision is not None and obj.name is not None
        again = o.connector_object_to_proto(obj)
        assert again.objectClass == hit.objectClass
        assert _same_content(again.attributes, hit.attributes)


def test_a_recorded_get_answer_decodes_and_ours_matches_it() -> None:
    answers = [r.GetOpResponse.connectorObject for r in _responses("04-create-get")]
    narrow = [a for a in answers if a][1]  # ATTRS_TO_GET=[mail, age, groups]: scalar values only
    obj = o.decode_connector_object(narrow)
    assert obj == ConnectorObject(
        objectClass="__ACCOUNT__",
        uid=Uid(value="0", revision="0"),
        name="alice",
        attributes={
            "groups": ["admins", "users", "staff"],
            "mail": ["alice@example.com"],
            "age": [42],
        },
    )
    assert _same_content(o.encode_connector_object(obj), narrow)
    missing = [r for r in _responses("08-errors") if r.HasField("GetOpResponse")]
    assert missing and o.decode_connector_object(missing[0].GetOpResponse.connectorObject) is None


def test_big_numbers_take_the_java_type_that_holds_them() -> None:
    blob = o.encode_attributes({"n": [1, 2**40, 2**70, 1.5, True, None]})
    tree = legacy.decode(blob)
    assert isinstance(tree, legacy.JavaSet)
    attribute = tree.items[0]
    assert isinstance(attribute, LegacyObject)
    values = attribute.fields["Values"]
    assert isinstance(values, list)
    assert [type(v).__name__ for v in values] == [
        "int",
        "Long",
        "BigInteger",
        "float",
        "bool",
        "NoneType",
    ]
    assert o.decode_attributes(blob).attributes["n"] == [1, 2**40, 2**70, 1.5, True, None]


@pytest.mark.parametrize(
    "attributes",
    [
        {"mail": ["b@example.com"], "age": [3], "x": [], "pw": [GuardedString("s")]},
        {"n": [None, 2**40, -(2**70), 0.5, False, "ü"]},
        {},
    ],
)
def test_the_fast_attribute_writer_writes_the_set_the_tree_describes(
    attributes: dict[str, list[AttributeValue]],
) -> None:
    uid, name = Uid(value="7", revision="3"), "bob"
    fast = o.encode_attributes(attributes, uid=uid, name=name)
    tree = o.attributes_to_legacy(attributes, uid=uid, name=name)
    assert legacy.decode(fast) == tree
    assert o.decode_attributes(fast) == o.AttributeSet(uid, name, attributes)
    bare = o.encode_attributes(attributes)
    assert legacy.decode(bare) == o.attributes_to_legacy(attributes)


# --- filters ---------------------------------------------------------------------------------

EXPECTED_FILTERS: list[f.Filter] = [
    f.Equals(attribute="__UID__", value="2"),
    f.And(
        filters=[
            f.StartsWith(attribute="__NAME__", value="user"),
            f.Not(filter=f.EndsWith(attribute="mail", value="@example.org")),
        ]
    ),
    f.Or(
        filters=[f.Contains(attribute="mail", value="3@"), f.GreaterThan(attribute="age", value=50)]
    ),
    f.And(
        filters=[
            f.LessThanOrEqual(attribute="age", value=45),
            f.ContainsAllValues(attribute="groups", values=["a", "b"]),
        ]
    ),
    f.And(
        filters=[
            f.Or(
                filters=[
                    f.GreaterThanOrEqual(attribute="age", value=55),
                    f.LessThan(attribute="age", value=30),
                ]
            ),
            f.Presence(attribute="mail"),
        ]
    ),
    f.Equals(attribute="__NAME__", value="user4"),
    f.StartsWith(attribute="__NAME__", value="user"),
]


def _recorded_filters() -> list[bytes]:
    return [op.searchOpRequest.filter for op in _ops("06-search") if op.searchOpRequest.filter]


def test_the_recorded_filters_decode_to_ours_and_reencode_to_the_same_bytes() -> None:
    blobs = _recorded_filters()
    assert len(blobs) == len(EXPECTED_FILTERS) + 1  # the last is the ExtendedMatchFilter
    for blob, expected in zip(blobs, EXPECTED_FILTERS, strict=False):
        assert o.decode_filter(blob) == expected
        assert o.encode_filter(expected) == blob


def test_a_filter_our_model_cannot_express_is_a_clear_error() -> None:
    with pytest.raises(WireFormatError, match="ExtendedMatchFilter \\(operator 'custom-op'\\)"):
        o.decode_filter(_recorded_filters()[-1])


def test_no_filter_is_none() -> None:
    assert o.decode_filter(b"") is None
    assert o.decode_filter(legacy.encode(None)) is None


def test_n_ary_and_nests_pairwise_and_comes_back_flat() -> None:
    node = f.And(
        filters=[
            f.Equals(attribute="a", value=1),
            f.Equals(attribute="b", value=None),
            f.Or(filters=[f.Presence(attribute="c"), f.EndsWith(attribute="d", value="x")]),
        ]
    )
    tree = o.filter_to_legacy(node)
    assert isinstance(tree, LegacyObject) and tree.type == "AndFilter"
    assert isinstance(tree.items[0], LegacyObject) and tree.items[0].type == "AndFilter"
    assert o.decode_filter(o.encode_filter(node)) == node


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        (
            LegacyObject(
                "EqualsFilter",
                {"attribute": LegacyObject("Attribute", {"name": "a", "Values": [1, 2]})},
            ),
            "with 2 values",
        ),
        (
            LegacyObject(
                "ContainsFilter",
                {"attribute": LegacyObject("Attribute", {"name": "a", "Values": [1]})},
            ),
            "non-string value",
        ),
        (
            LegacyObject(
                "GreaterThanFilter",
                {"attribute": LegacyObject("Attribute", {"name": "a", "Values": [None]})},
            ),
            "compares with a null",
        ),
        (
            LegacyObject("AndFilter", items=[LegacyObject("PresenceFilter", {"name": "a"})]),
            "joins two filters, not 1",
        ),
        (LegacyObject("Uid", {"uid": "1"}), "Uid is not a filter"),
        ("text", "a filter, not a str"),
    ],
)
def test_bad_filters_name_what_is_wrong(tree: legacy.Value, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        o.decode_filter(legacy.encode(tree))


# --- options ---------------------------------------------------------------------------------


def _recorded_options(scenario: str) -> list[bytes]:
    found = []
    for op in _ops(scenario):
        for name in ("searchOpRequest", "getOpRequest", "syncOpRequest"):
            if op.HasField(name):
                sub = getattr(op, name)
                found.append(sub.sync.options if name == "syncOpRequest" else sub.options)
    return [b for b in found if b]


def test_the_recorded_options_decode_to_ours() -> None:
    decoded = [o.decode_options(b) for b in _recorded_options("06-search")]
    ours = [d[0] for d in decoded]
    assert OperationOptions(pageSize=3) in ours
    assert OperationOptions(pageSize=3, pagedResultsCookie="user2") in ours
    assert OperationOptions(pageSize=3, pagedResultsOffset=2) in ours
    assert OperationOptions(attributesToGet=["mail", "age"]) in ours
    assert (
        OperationOptions(
            sortKeys=[
                SortKey(field="age", ascending=False),
                SortKey(field="__NAME__", ascending=True),
            ]
        )
        in ours
    )
    assert all(other == {} for _, other in decoded)
    delay = o.decode_options(_recorded_options("07-search-cancel")[0])
    assert delay == (OperationOptions(), {"delay": 300})


def test_our_options_encode_to_what_java_sends() -> None:
    for blob in _recorded_options("06-search") + _recorded_options("07-search-cancel"):
        options, other = o.decode_options(blob)
        assert _same_content(o.encode_options(options, other), blob)


def test_a_bad_option_value_is_named() -> None:
    blob = o.encode_options(other={"PAGE_SIZE": "ten"})
    with pytest.raises(WireFormatError, match=r"an Integer, not a str \(at options\.PAGE_SIZE\)"):
        o.decode_options(blob)
    with pytest.raises(WireFormatError, match="pageSize"):
        o.decode_options(o.encode_options(other={"PAGE_SIZE": 0}))


# --- schema ----------------------------------------------------------------------------------


def _recorded_schema() -> bytes:
    blobs: list[bytes] = [r.schemaOpResponse.schema for r in _responses("03-schema")]
    return next(b for b in blobs if b)


def test_the_recorded_schema_decodes_to_ours() -> None:
    schema = o.decode_schema(_recorded_schema())
    account = schema.object_class("__ACCOUNT__")
    assert account is not None
    password = account.attribute("__PASSWORD__")
    assert password is not None and password.type is AttributeType.GUARDED_STRING
    assert set(password.flags) == {
        AttributeFlag.NOT_READABLE,
        AttributeFlag.NOT_RETURNED_BY_DEFAULT,
    }
    assert schema.supportedObjectClassesByOperation["CREATE"] == ["__GROUP__", "__ACCOUNT__"]
    assert "RESOLVEUSERNAME" in schema.supportedObjectClassesByOperation


def test_every_operation_name_has_its_java_api_operation() -> None:
    assert set(o.API_OPERATION_OF) == set(get_args(OperationName))
    assert set(o.API_OPERATION_OF.values()) <= set(legacy.API_OPERATIONS)


def test_our_schema_has_the_shape_java_sends() -> None:
    java = legacy.decode(_recorded_schema())
    schema = o.decode_schema(_recorded_schema())
    ours = legacy.decode(o.encode_schema(schema, ["CREATE", "SEARCH"]))
    assert isinstance(ours, LegacyObject) and isinstance(java, LegacyObject)
    assert list(ours.fields) == list(java.fields)  # all four, in Java's order
    assert o.content_digest(ours.fields["ObjectClassInfos"]) == o.content_digest(
        java.fields["ObjectClassInfos"]
    )
    assert _shape(ours) == _shape(java)


def test_an_operation_the_schema_map_leaves_out_supports_every_class() -> None:
    schema = Schema(
        objectClasses=[ObjectClassInfo(type="contact", attributes=[AttributeInfo(name="email")])],
        supportedObjectClassesByOperation={"SEARCH": ["contact"]},
    )
    again = o.decode_schema(o.encode_schema(schema, ["CREATE", "SEARCH"]))
    assert again.supportedObjectClassesByOperation == {"SEARCH": ["contact"], "CREATE": ["contact"]}
    assert again.objectClasses == schema.objectClasses


# --- sync ------------------------------------------------------------------------------------


def test_recorded_sync_tokens_decode_and_reencode_to_the_same_bytes() -> None:
    tokens = []
    for r in _responses("09-sync-script"):
        s = r.syncOpResponse
        if s.HasField("latestSyncToken"):
            tokens.append(s.latestSyncToken.syncToken.value)
        if s.sync.HasField("syncToken"):
            tokens.append(s.sync.syncToken.value)
    assert [o.decode_sync_token(t) for t in tokens] == [SyncToken(value=v) for v in (0, 5, 5, 5)]
    for blob in tokens:
        assert o.encode_sync_token(o.decode_sync_token(blob)) == blob
    assert o.decode_sync_token(o.encode_sync_token(SyncToken(value="abc"))) == SyncToken(
        value="abc"
    )


def test_recorded_sync_deltas_decode_and_ours_match_them() -> None:
    deltas = [
        r.syncOpResponse.sync.syncDelta
        for r in _responses("09-sync-script")
        if r.syncOpResponse.sync.HasField("syncDelta")
    ]
    ours = [o.sync_delta_from_proto(d) for d in deltas]
    assert [(d.deltaType, d.uid.value, d.token.value) for d in ours] == [
        (SyncDeltaType.CREATE, "0", 0),
        (SyncDeltaType.UPDATE, "1", 3),
        (SyncDeltaType.DELETE, "2", 4),
    ]
    for java, delta in zip(deltas, ours, strict=True):
        again = o.sync_delta_to_proto(delta)
        assert again.token == java.token and again.uid == java.uid
        assert again.deltaType == java.deltaType and again.objectClass == java.objectClass
        assert _same_content(again.connectorObject, java.connectorObject)


def test_a_delete_delta_without_object_and_with_previous_uid_survives() -> None:
    delta = SyncDelta(
        token=SyncToken(value="t9"),
        deltaType=SyncDeltaType.DELETE,
        objectClass="contact",
        uid=Uid(value="9"),
        previousUid=Uid(value="8"),
    )
    assert o.sync_delta_from_proto(o.sync_delta_to_proto(delta)) == delta


# --- scripts ---------------------------------------------------------------------------------


def test_recorded_script_arguments_and_results_decode_and_reencode() -> None:
    ops = [op for op in _ops("09-sync-script") if op.HasField("scriptOnConnectorOpRequest")]
    args = [
        o.decode_script_value(op.scriptOnConnectorOpRequest.scriptContext.scriptArguments)
        for op in ops
    ]
    assert args[0] == {"name": "world"}
    results = [
        r.scriptOnConnectorOpResponse.object
        for r in _responses("09-sync-script")
        if r.scriptOnConnectorOpResponse.object
    ]
    assert o.decode_script_value(results[0]) == "Hello world"
    assert o.decode_script_value(results[1]) == {"names": ["a", "b"], "count": 3, "ok": True}
    assert o.encode_script_value("Hello world") == results[0]
    assert _same_content(
        o.encode_script_value({"names": ["a", "b"], "count": 3, "ok": True}), results[1]
    )
    on_resource = next(
        op for op in _ops("09-sync-script") if op.HasField("scriptOnResourceOpRequest")
    )
    blob = on_resource.scriptOnResourceOpRequest.scriptContext.scriptArguments
    assert o.encode_script_value(o.decode_script_value(blob)) == blob


# --- the facade key --------------------------------------------------------------------------


def _facade_keys(scenario: str) -> list[bytes]:
    return [op.connectorFacadeKey for op in _ops(scenario) if op.connectorFacadeKey]


def test_a_recorded_facade_key_decodes_to_its_configuration() -> None:
    config = o.decode_facade_key(_facade_keys("04-create-get")[0])
    values = {name: p.value for name, p in config.properties.items()}
    assert values == {
        "tstField": "hello",
        "caseIgnore": False,
        "failValidation": False,
        "randomString": "wire-vectors",
        "testObjectClass": ["__ACCOUNT__", "__GROUP__"],
        "resetConnectionCount": False,
        "returnNullTest": False,
        "numResults": 3,
        "tst1Field": None,
    }
    assert config.properties["numResults"].java_type == "int"
    assert config.properties["testObjectClass"].java_type == "Array<String>"
    assert config.pool.maxWait == 150000 and config.producer_buffer_size == 100
    assert config.results_handler.enableFilteredResultsHandler is True
    assert len(config.supported_operations) == 16 and config.timeouts == {}
    inline = config.inline()
    assert "tst1Field" not in inline.configurationProperties
    assert inline.configurationProperties["numResults"] == 3


def test_the_digest_is_the_same_for_the_same_configuration_from_another_process() -> None:
    keys = {s: _facade_keys(s)[0] for s in ("03-schema", "04-create-get", "05-update", "06-search")}
    assert len(set(keys.values())) > 1  # the bytes differ (hash-set order) ...
    digests = {o.decode_facade_key(k).digest for k in keys.values()}
    assert len(digests) == 1  # ... the content does not
    failing = _facade_keys("02-validate-test")[-1]
    assert o.decode_facade_key(failing).digest not in digests  # failValidation=true


def test_a_client_builds_the_same_facade_key_from_the_connector_info() -> None:
    info_blob = next(
        m.response.controlResponse.connectorInfos
        for m in _messages("04-create-get")
        if len(m.response.controlResponse.connectorInfos) > 100
    )
    infos = {
        i.connector_key.connectorName.rsplit(".", 1)[1]: i
        for i in o.decode_connector_infos(info_blob)
    }
    configured = o.set_property_values(
        infos["TstStatefulConnector"].api_configuration,
        {
            "testObjectClass": ["__ACCOUNT__", "__GROUP__"],
            "tstField": "hello",
            "numResults": 3,
            "randomString": "wire-vectors",
        },
    )
    key = o.facade_key(configured)
    assert (
        o.decode_facade_key(key).digest
        == o.decode_facade_key(_facade_keys("04-create-get")[0]).digest
    )


def test_a_facade_key_that_does_not_decode_is_named() -> None:
    with pytest.raises(WireFormatError, match="not Base64"):
        o.decode_facade_key(b"%%%")
    with pytest.raises(WireFormatError, match="APIConfiguration, not a List"):
        o.decode_facade_key(base64.b64encode(legacy.encode([])))
    with pytest.raises(WireFormatError, match="bad magic"):
        o.decode_facade_key(base64.b64encode(b"0123456789abcdef"))


def test_guarded_strings_in_a_facade_key_arrive_as_our_secrets() -> None:
    info = ConnectorInfo(
        connectorKey=ConnectorKey(bundleName="b", bundleVersion="1.0", connectorName="c.C"),
        displayName="C",
        configurationProperties=[
            ConfigurationPropertyInfo(name="clientSecret", type="guardedString", confidential=True),
        ],
    )
    api = o.api_configuration_to_legacy(info)
    key = o.facade_key(o.set_property_values(api, {"clientSecret": GuardedString("s3cret")}))
    assert base64.b64decode("TKkCfAidhl9UoNBYr7pKpg==") in base64.b64decode(key)
    secret = o.decode_facade_key(key).properties["clientSecret"]
    assert secret.value == GuardedString("s3cret") and secret.java_type == "GuardedString"
    assert "s3cret" not in repr(o.decode_facade_key(key))


# --- CONNECTOR_INFO and configurationChangeEvent ---------------------------------------------

HUBSPOT = ConnectorInfo(
    connectorKey=ConnectorKey(
        bundleName="org.forgerock.openicf.connectors.hubspot-connector",
        bundleVersion="1.5.20.34",
        connectorName="org.forgerock.openicf.connectors.hubspot.HubspotConnector",
    ),
    displayName="HubSpot Connector",
    category="CRM",
    configurationProperties=[
        ConfigurationPropertyInfo(
            name="clientId",
            type="string",
            required=True,
            displayName="Client ID",
            helpMessage="The app's client id.",
            order=1,
        ),
        ConfigurationPropertyInfo(
            name="clientSecret",
            type="guardedString",
            confidential=True,
            displayName="Client secret",
            order=2,
        ),
        ConfigurationPropertyInfo(
            name="refreshToken", type="guardedString", confidential=True, order=3
        ),
        ConfigurationPropertyInfo(name="pageSize", type="integer", defaultValue=100, order=4),
        ConfigurationPropertyInfo(name="proxyPort", type="integer", order=4),
        ConfigurationPropertyInfo(name="archived", type="boolean", defaultValue=False, order=5),
        ConfigurationPropertyInfo(
            name="objectTypes", type="array<string>", defaultValue=["contacts"], order=6
        ),
    ],
    supportedOperations=["CREATE", "GET", "SEARCH", "SCHEMA", "TEST", "VALIDATE"],
)


def _recorded_infos() -> legacy.Value:
    blob = next(
        m.response.controlResponse.connectorInfos
        for m in _messages("01-connect-info-idle")
        if len(m.response.controlResponse.connectorInfos) > 100
    )
    return legacy.decode(blob)


def test_the_recorded_connector_infos_decode() -> None:
    blob = legacy.encode(_recorded_infos())
    infos = o.decode_connector_infos(blob)
    assert [i.connector_key.connectorName.rsplit(".", 1)[1] for i in infos] == [
        "TstStatefulPoolableConnector",
        "TstStatefulConnector",
        "TstConnector",
    ]
    assert infos[0].messages["tstField.help"] == "Help for test field."
    assert o.decode_connector_infos(legacy.encode([])) == []


def test_our_connector_info_has_every_field_java_sends() -> None:
    java = _recorded_infos()
    assert isinstance(java, list) and isinstance(java[0], LegacyObject)
    ours = legacy.decode(o.encode_connector_infos([HUBSPOT], timeouts={"SEARCH": 60000}))
    assert isinstance(ours, list) and isinstance(ours[0], LegacyObject)
    mine, theirs = ours[0], java[0]
    assert set(theirs.fields) <= set(mine.fields)
    api, java_api = mine.fields["APIConfiguration"], theirs.fields["APIConfiguration"]
    assert isinstance(api, LegacyObject) and isinstance(java_api, LegacyObject)
    assert list(api.fields) == list(java_api.fields)
    for name in ("connectorPoolConfiguration", "resultsHandlerConfiguration"):
        assert _shape(api.fields[name]) == _shape(java_api.fields[name])
    props = api.fields["ConfigurationProperties"]
    java_props = java_api.fields["ConfigurationProperties"]
    assert isinstance(props, LegacyObject) and isinstance(java_props, LegacyObject)
    for prop in props.items:
        assert isinstance(prop, LegacyObject)
        assert list(prop.fields) == list(java_props.items[0].fields)  # type: ignore[union-attr]


def test_our_connector_info_tells_idm_the_types_texts_and_operations() -> None:
    (info,) = o.decode_connector_infos(
        o.encode_connector_infos([HUBSPOT], timeouts={"SEARCH": 60000})
    )
    assert info.connector_key == HUBSPOT.connectorKey
    assert info.display_name == "HubSpot Connector" and info.category == "CRM"
    assert info.messages["clientId.display"] == "Client ID"
    assert info.messages["clientId.help"] == "The app's client id."
    for prop in HUBSPOT.configurationProperties:  # every key the properties name resolves
        for suffix in ("display", "help", "group"):
            assert f"{prop.name}.{suffix}" in info.messages
    assert info.messages["refreshToken.display"] == "refreshToken"  # no display name: the name
    tree = legacy.decode(o.encode_connector_infos([HUBSPOT]))
    assert "The app''s client id." in repr(tree)  # a MessageFormat pattern on the wire
    config = info.configuration()
    types = {name: p.java_type for name, p in config.properties.items()}
    assert types == {
        "clientId": "String",
        "clientSecret": "GuardedString",
        "refreshToken": "GuardedString",
        "pageSize": "int",
        "proxyPort": "Integer",  # no default: a boxed type, which can be null
        "archived": "boolean",
        "objectTypes": "Array<String>",
    }
    assert config.properties["clientSecret"].confidential and config.properties["clientId"].required
    assert config.properties["pageSize"].value == 100
    assert config.properties["objectTypes"].value == ["contacts"]
    assert config.properties["clientSecret"].value is None
    assert config.timeouts == {"SearchApiOp": 60000}
    assert config.supported_operations == {
        "CreateApiOp",
        "GetApiOp",
        "SearchApiOp",
        "SchemaApiOp",
        "TestApiOp",
        "ValidateApiOp",
    }


def test_a_configuration_change_event_matches_java() -> None:
    java = next(
        op.configurationChangeEvent.configurationPropertyChange
        for op in _ops("09-sync-script")
        if op.HasField("configurationChangeEvent")
    )
    assert o.decode_configuration_change(java) == {"tstField": "change"}
    ours = o.encode_configuration_change(
        {"tstField": "change"},
        [ConfigurationPropertyInfo(name="tstField", type="string", order=-1)],
    )
    assert o.decode_configuration_change(ours) == {"tstField": "change"}
    mine, theirs = legacy.decode(ours), legacy.decode(java)
    assert isinstance(mine, list) and isinstance(theirs, list)
    assert list(mine[0].fields) == list(theirs[0].fields)  # type: ignore[union-attr]
    rotated = o.encode_configuration_change(
        {"refreshToken": GuardedString("new")}, HUBSPOT.configurationProperties
    )
    assert o.decode_configuration_change(rotated) == {"refreshToken": GuardedString("new")}
    with pytest.raises(WireFormatError, match="no configuration property 'nope'"):
        o.encode_configuration_change({"nope": 1}, HUBSPOT.configurationProperties)


@pytest.mark.parametrize("text", ["plain", "it's", "{0} braces }", "''", "a'b'c{d}"])
def test_catalog_texts_survive_java_message_format(text: str) -> None:
    assert o.message_format_unescape(o.message_format_escape(text)) == text


def test_the_direct_attribute_reader_agrees_with_the_full_decoder() -> None:
    blobs = [
        r.searchOpResponse.connectorObject.attributes
        for s in ("06-search", "07-search-cancel")
        for r in _responses(s)
        if r.searchOpResponse.HasField("connectorObject")
    ]
    blobs += [
        op.updateOpRequest.replaceAttributes
        for op in _ops("05-update")
        if op.HasField("updateOpRequest")
    ]
    blobs += [o.encode_attributes({"a": [None, 1, 2**40, 1.5, True, GuardedString("s")], "b": []})]
    for blob in blobs:
        assert o.decode_attributes(blob) == o.attributes_from_legacy(legacy.decode(blob))
