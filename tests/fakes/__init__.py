"""Deterministic stand-ins for the real encoders, for unit tests of the logic around them."""
