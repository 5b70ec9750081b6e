"""Inventory: sites, devices, credential profiles and groups, read from CSV/YAML with strict validation."""
