"""Tanhui's backend: HTTP, auth and persistence wiring around the points engine."""
