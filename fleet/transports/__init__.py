"""Transports: SNMP and SSH, each turning library errors into fleet's own error kinds."""
