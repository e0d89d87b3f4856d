"""Development tools the tests and the benchmarks share. Never deployed; imports nothing from tests/."""
