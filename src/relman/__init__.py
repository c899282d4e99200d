"""relman: release engineering for CPython and projects released the way CPython is."""

__version__ = "0.1.0"
