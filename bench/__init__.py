"""Benchmarks: each module runs with one command and rewrites its section of docs/benchmarks.md."""
