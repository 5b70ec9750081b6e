"""A lean SNMP agent (v2c and v3 USM authPriv) written for speed: a GET costs tens of microseconds."""
