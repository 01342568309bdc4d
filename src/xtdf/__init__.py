"""xtdf: a reference OpenTDF implementation and cross-SDK compatibility suite."""

__version__ = "0.1.0"
