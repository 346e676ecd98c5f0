"""The inventory of an image: its operating system and installed packages, found by
walking its layers (``take_inventory``), without a database.

Detectors: os-release; dpkg (status, distroless status.d) and apk databases; RPM
databases (found, not read: see ``rpm``); Python distributions (dist-info,
egg-info); npm (installed package.json, package-lock.json); Go binaries' build
info; Maven artifacts in Java archives. Values are in ``packages``; limits in ``limits``."""

from .errors import InventoryError, LimitExceeded, UnsupportedLayer
from .limits import Limits
from .packages import Inventory, OperatingSystem, Package
from .walk import Layer, take_inventory

__all__ = [
    "Inventory",
    "InventoryError",
    "Layer",
    "LimitExceeded",
    "Limits",
    "OperatingSystem",
    "Package",
    "UnsupportedLayer",
    "take_inventory",
]
