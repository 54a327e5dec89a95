"""Tanhui's points engine: plain data in, plain data out.

The core imports no web framework, no SQL and no Redis; storage sits behind the
protocols in ``points_engine.store``.
"""
