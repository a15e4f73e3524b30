"""The OpenICF 1.5 WebSocket wire that IDM speaks: pure codecs, no I/O (docs/openicf-rpc.md).

A binary frame is one protobuf `RemoteMessage`; many of its `bytes` fields hold OpenICF's legacy
binary object serialization. This package turns both into our models and back; the session and
the server decide what to do with them.

The API, by module (stable: the server and the client build on it):

`protocol.openicf.proto.{rpc,operations,common}_pb2`
    Generated protobuf classes (`RemoteMessage`, `RPCRequest`, `OperationRequest`,
    `SearchOpResponse`, `Uid`, ...), typed by their `.pyi` stubs. Field names are the peer's.

`protocol.openicf.wire`
    `parse_message(data: bytes) -> RemoteMessage` (raises `WireFormatError`),
    `serialize_message(message: RemoteMessage) -> bytes`,
    `search_hit_message(message_id, sequence, object_class, attributes) -> bytes` (one search
    hit's whole message, written directly: the per-object hot path),
    `WireFormatError(ProtocolError)`: every decoding failure of this package, with `field`.

`protocol.openicf.legacy`
    `decode(data: bytes) -> Value` and `encode(value: Value) -> bytes`: the legacy format with
    its constant pool. Tree values: `None`, `str`, `bool`, `int` (Java Integer), `float`
    (Double), `bytes` (ByteArray), `Decimal` (BigDecimal), `Long`, `Float`, `Character`,
    `BigInteger`, `Byte`, `list` (List), `JavaSet`, `JavaMap`, `JavaArray`, `ClassRef`
    (a class or an API operation), `GuardedString` (protocol.values), `GuardedByteArray`,
    `LegacyObject(type, fields, items)` for every other known type, and `UnknownObject` for a
    type name we do not know (decoded leniently, never encoded).

`protocol.openicf.guarded`
    `encrypt(plain: bytes) -> bytes`, `decrypt(cipher: bytes) -> bytes` (the framework's fixed
    AES key), `GuardedByteArray`.

`protocol.openicf.objects` (decoders raise `WireFormatError`; see its docstring)
    attributes: `decode_attributes(blob) -> AttributeSet(uid, name, attributes)`,
    `encode_attributes(attributes, *, uid=None, name=None) -> bytes` (fast; search and sync),
    `encode_object_attributes(obj)`, `attributes_to_legacy(...)`;
    objects: `connector_object_to_proto(obj)`, `connector_object_from_proto(msg)`,
    `encode_connector_object(obj)` / `decode_connector_object(blob) -> ConnectorObject | None`
    (get); `uid_to_proto`, `uid_from_proto`;
    filters: `decode_filter(blob) -> Filter | None`, `encode_filter(filter)`;
    options: `decode_options(blob) -> (OperationOptions, other)`, `encode_options(options, other)`;
    schema: `encode_schema(schema, supported_operations=())`, `decode_schema(blob)`;
    sync: `encode_sync_token(token)`, `decode_sync_token(blob)`, `sync_delta_to_proto(delta)`,
    `sync_delta_from_proto(msg)`;
    scripts: `encode_script_value(json)`, `decode_script_value(blob)`;
    facade key: `decode_facade_key(key) -> FacadeConfiguration` (`.properties`, `.pool`,
    `.results_handler`, `.timeouts`, `.producer_buffer_size`, `.digest`, `.inline()`),
    `set_property_values(api_configuration, values)`, `facade_key(api_configuration)`;
    CONNECTOR_INFO: `encode_connector_infos(infos: Sequence[protocol.info.ConnectorInfo],
    **defaults)`, `decode_connector_infos(blob) -> list[RemoteConnectorInfo]`;
    configurationChangeEvent: `encode_configuration_change(changes, properties)`,
    `decode_configuration_change(blob)`;
    `API_OPERATION_OF` / `OPERATION_OF_API`: our operation names <-> Java API operation names.
"""
