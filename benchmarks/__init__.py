"""Benchmarks: the emulator, the client overhead and the codec, run as modules."""
