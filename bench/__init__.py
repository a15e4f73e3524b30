"""Benchmarks: each module runs with one command and rewrites its own section of docs/benchmarks.md."""
