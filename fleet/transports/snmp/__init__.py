"""SNMP GETs for a whole sweep, on fleet.snmp's own BER/USM codec and asyncio.

Measured with bench/snmp_transport.py on the shipped inventory against the simulator (9,963
devices: 3,321 v2c cameras, 6,642 SNMPv3 authPriv SHA/AES-128 routers and codecs, each with its own
engine ID; one GET of 5 objects; timeout 1 s, retries 1, 200 in flight; 2 cores shared with the
simulator; figures from one run, the simulator answering in one process):

=====================================  ==============  ==============  =========
client                                 cold / warm     CPU per device  peak RSS
=====================================  ==============  ==============  =========
pysnmp protocol layer + pyasn1         9.8 s / 4.0 s   0.96 / 0.68 ms  176 MB
this module (fleet.snmp codec)         4.2 s / 2.1 s   0.16 / 0.10 ms  158 MB
=====================================  ==============  ==============  =========

No false timeouts cold or warm, v2c or v3. bench/snmp_transport.py gives v2c and v3 apart, the
simulator's CPU per answer and the forked snmpget baseline of the same run.

Why it is built this way:

- pysnmp's ``SnmpEngine`` (the v3arch hlapi) keeps targets, users and discovered remote engines in
  MIB-instrumented tables: registering a target cost 2.7 ms of MIB writes, the user map was rebuilt
  per remote engine (quadratic: false timeouts in cold sweeps), each GET walked LCD, target and
  MIB-view lookups. Its protocol layer with pyasn1 then cost 0.4 ms (v2c) / 0.65 ms (v3) to decode
  an answer. So this module speaks the wire format with fleet.snmp, the codec the simulator answers
  with: BER, v2c and SNMPv3 messages, USM keys, HMAC-SHA/SHA-2 and AES-128/256 (``cryptography``).
  pysnmp stays the reference: tests feed the same datagrams to both and expect the same values or
  the same error kind (tests/test_snmp_codec.py). What this module adds is a command generator's
  RFC 3414 procedure: engine discovery (a report, then cached per device), time-window and
  engine-ID resync, USM reports as fleet's error kinds. It is checked against the simulator and
  against net-snmp's snmpd (tests).
- Requests are frames (frames.py): a send joins the varying fields into a message encoded once.
- One Python process tops out near one core: sweeps of ``SHARD_MIN`` devices or more are sharded
  over worker processes (pool.py, one per core), a device always to the same worker, which keeps its
  engine ID for later sweeps; results come back as plain Python values.
- One UDP socket per process, with a 4 MB receive buffer (the kernel default, 212 KB, dropped
  bursts of replies) and kernel receive timestamps (SO_TIMESTAMP): ``elapsed`` is when the answer
  reached the machine, not when a busy client got round to it, and the socket is read to the end
  before any request is declared timed out, so a busy client causes no false timeouts.
- Dead devices must not serialise a sweep: a request unanswered for 4 typical answer times, whose
  answer is not waiting unread in the socket, stops counting against ``in_flight``; waiting for it
  costs nothing. Dead devices are then timed out together.
- Retries are confirm passes: the main pass sends each device one request; a device that stayed
  silent is asked again, paced, as soon as its request has timed out, so it is reported silent
  only after ``retries + 1`` silences and a sweep with dead devices ends about timeout x
  (retries + 1) after its last first request. A v3 confirm attempt rediscovers first, which
  tells a device that ignores our authenticated requests (net-snmp drops what it cannot decrypt)
  from a dead one. An answer slower than ``slow_after`` is measured once more, paced.
- An undecodable datagram from a device we wait for is kept, and a device that never answered
  readably but sent one is reported MALFORMED; a valid answer that came after its request had timed
  out is reported as a TIMEOUT "answered after the timeout".

Modules: types (what callers pass and get), frames (requests out, answers in), engines (USM
credential sets and agents' engines), jobs (one device in one sweep), sweeper and answers (the
event-loop side), pool (worker processes), client (SnmpClient).
"""

from fleet.snmp.ber import Value
from fleet.transports.snmp.client import SHARD_MIN, SnmpClient
from fleet.transports.snmp.types import SnmpCredentials, SnmpResult, SnmpStats, SnmpTarget

__all__ = ["SHARD_MIN", "SnmpClient", "SnmpCredentials", "SnmpResult", "SnmpStats", "SnmpTarget", "Value"]
