"""crisisd: crisis media-management alerting daemon."""

__version__ = "0.1.0"
