"""Simulated device models: per driver, the SNMP view and the CLI."""
