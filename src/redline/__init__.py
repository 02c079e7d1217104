"""Redline: hash matching that stops non-consensual intimate images from spreading."""

__version__ = "0.1.0"
