"""Benchmarks, separate from the tests: `make bench` (`python -m bench [section ...]`) prints one JSON
document.

Each section is a module in this package with a `run() -> dict` function; `__main__` discovers them, so a
new section is a new file here and nothing else.
"""
