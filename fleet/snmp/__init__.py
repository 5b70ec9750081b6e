"""SNMP's wire format, shared by the transport (a manager) and the simulator (agents).

``ber``: the BER subset SNMP uses; ``message``: v2c and SNMPv3 messages and PDUs, both ways;
``usm``: the user-based security model (keys, HMAC-SHA/SHA-2, AES-128/256 privacy).
Hand-written because a general ASN.1 library costs ten times more per message; pysnmp stays the
reference the tests compare against (tests/test_snmp_codec.py).
"""
