"""codename: a distinct human code name for every terminal session."""

__version__ = "0.1.0"
