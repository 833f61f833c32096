"""Loopback fakes of the providers, so the real client libraries run in tests and benchmarks."""
