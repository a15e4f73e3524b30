"""Generated protobuf bindings of the OpenICF 1.5 wire (docs/openicf-rpc.md §1).

`*.proto` here are the schema, written from the protocol's field numbers and types; `*_pb2.py`
and `*_pb2.pyi` are generated from them (`make proto`) and checked by
tests/protocol/openicf/test_generated.py. Do not edit the generated files.
"""
