"""Checks: judging devices and sites from what the collectors read."""
