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

`protocol.openicf.objects`
    Conversions between legacy trees and the models of `protocol.values`, `protocol.filters`,
    `protocol.schema`, `protocol.info` and `protocol.configuration` (see its docstring).
"""
