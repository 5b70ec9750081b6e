"""fleet: conference endpoint fleet manager for a national network operations centre."""

__version__ = "0.1.0"
