"""The fleet simulator: every device of an inventory on its own loopback address, real SNMP and SSH."""
