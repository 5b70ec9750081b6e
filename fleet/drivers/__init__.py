"""Device drivers: one per device platform, mostly data, all in one registry."""

from fleet.drivers.registry import REGISTRY, Driver, DriverRegistry

__all__ = ["REGISTRY", "Driver", "DriverRegistry"]
