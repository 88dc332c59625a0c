#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus_*/):
small action scripts for fuzz_broker (format in fuzz_broker.c: one byte
client + 4 * action, then the action's bytes) and raw packet streams for
fuzz_protocol. Re-run after changing the action format."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RAW, CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH, ACK, DISCONNECT, CLOSE, HOLD = range(9)
N_CLIENTS = 4


def a(client, action, *args):
    return bytes([client + N_CLIENTS * action, *args])


def connect(c, clean=True, cid=0, will=False, wqos=0, v31=False, ka1=False):
    f = (1 if clean else 0) | cid << 1 | (8 if will else 0) | wqos << 4
    return a(c, CONNECT, f | (0x40 if v31 else 0) | (0x80 if ka1 else 0))


def sub(c, pid, *entries):  # entries: (filter index, qos)
    return a(c, SUBSCRIBE, len(entries) - 1, pid, *[f | q << 6 for f, q in entries])


def unsub(c, pid, *filters):
    return a(c, UNSUBSCRIBE, len(filters) - 1, pid, *filters)


def pub(c, topic, qos=0, retain=False, dup=False, empty=False):
    return a(c, PUBLISH, qos | (4 if retain else 0) | (8 if dup else 0) | (16 if empty else 0), topic)


def ack(c, kind, which=0):  # kind 0 PUBACK 1 PUBREC 2 PUBREL 3 PUBCOMP
    return a(c, ACK, kind | which << 2)


def raw(c, data):
    return a(c, RAW, len(data)) + data


broker = {
    "pubsub_qos0": connect(0) + sub(0, 1, (4, 0)) + connect(1, cid=1) + pub(1, 1),
    "pubsub_qos1": connect(0) + sub(0, 1, (0, 1)) + connect(1, cid=1) + pub(1, 0, 1) + ack(0, 0),
    "pubsub_qos2": connect(0) + sub(0, 1, (1, 2)) + connect(1, cid=1) + pub(1, 1, 2)
    + ack(1, 2) + ack(0, 1) + ack(0, 3),
    "takeover": connect(0, clean=False) + sub(0, 1, (4, 1)) + connect(1, clean=False) + pub(1, 0, 1),
    "resume": connect(0, clean=False) + sub(0, 1, (0, 1)) + a(0, DISCONNECT) + connect(1, cid=1)
    + pub(1, 0, 1) + pub(1, 0, 2) + connect(2, clean=False) + ack(2, 0),
    "clean_after_persistent": connect(0, clean=False) + sub(0, 1, (5, 2)) + a(0, CLOSE)
    + connect(0, clean=True),
    "retained": connect(0) + pub(0, 1, 1, retain=True) + pub(0, 2, 0, retain=True)
    + sub(0, 2, (4, 2)) + pub(0, 1, 0, retain=True, empty=True),
    "will": connect(0, will=True, wqos=1) + connect(1, cid=1) + sub(1, 1, (4, 1)) + a(0, CLOSE),
    "will_disconnect": connect(0, will=True, wqos=2) + a(0, DISCONNECT),
    "unsubscribe": connect(0) + sub(0, 1, (0, 0), (2, 1), (3, 2)) + unsub(0, 2, 0, 2, 8),
    "sys_topics": connect(0) + sub(0, 1, (6, 0), (4, 0), (7, 1)) + pub(0, 4) + pub(0, 2, 1),
    "backpressure": connect(0) + sub(0, 1, (4, 1)) + a(0, HOLD) + connect(1, cid=1)
    + pub(1, 0, 1) * 20 + a(0, HOLD) + ack(0, 0),
    "mqtt31": connect(0, v31=True) + sub(0, 1, (0, 1)) + pub(0, 0, 1),
    "empty_id": connect(0, cid=3) + connect(1, cid=3, clean=False),
    "dup_connect": connect(0) + connect(0),
    "bad_qos3": connect(0) + sub(0, 1, (0, 3)),
    "raw_ping": connect(0) + raw(0, b"\xc0\x00") + raw(0, b"\xc0"),
    "raw_before_connect": raw(0, b"\x30\x05\x00\x01a") + connect(1),
    "raw_split_connect": raw(0, b"\x10\x0e\x00\x04MQTT\x04\x02") + raw(0, b"\x00\x3c\x00\x02c9"),
    "keepalive": connect(0, ka1=True) + pub(0, 0),
    "qos2_dup": connect(0) + pub(0, 1, 2) + pub(0, 1, 2, dup=True) + ack(0, 2),
    # A first byte for client 2 or 3 turns persistence on (fuzz_broker.c):
    # durable when that action is even (a raw write), periodic when odd.
    "persist_durable": raw(2, b"") + connect(2, clean=False) + sub(2, 1, (4, 2), (0, 1))
    + a(2, DISCONNECT) + connect(1, cid=1) + pub(1, 0, 1, retain=True) + pub(1, 1, 2)
    + pub(1, 2, 1) + connect(2, clean=False) + ack(2, 0) + ack(2, 1) + ack(2, 3),
    "persist_periodic": connect(3, clean=False, cid=2) + sub(3, 1, (5, 1)) + connect(0)
    + pub(0, 1, 2) + ack(0, 2) + pub(0, 3, 1, retain=True) + a(3, CLOSE)
    + connect(3, clean=True, cid=2),
    "four_clients": connect(0) + connect(1, cid=1) + connect(2, cid=2) + connect(3, cid=3)
    + sub(0, 1, (4, 2)) + sub(1, 1, (2, 1)) + pub(2, 1, 2) + pub(3, 3, 1) + ack(0, 1) + ack(1, 0),
}


def packet(first, body):
    rl, n = bytearray(), len(body)
    while True:
        b, n = n % 128, n // 128
        rl.append(b | (0x80 if n else 0))
        if not n:
            return bytes([first]) + bytes(rl) + body


def s(x):
    return len(x).to_bytes(2, "big") + x


CONN = packet(0x10, s(b"MQTT") + b"\x04\x02\x00\x3c" + s(b"c1"))
protocol = {
    "connect": CONN,
    "connect_will_auth": packet(0x10, s(b"MQTT") + b"\x04\xee\x00\x3c" + s(b"c") + s(b"w/t")
                                + s(b"bye") + s(b"u") + s(b"p")),
    "connect31": packet(0x10, s(b"MQIsdp") + b"\x03\x02\x00\x3c" + s(b"c1")),
    "publish_qos0": CONN + packet(0x30, s(b"a/b") + b"hello"),
    "publish_qos1": CONN + packet(0x32, s(b"a/b") + b"\x00\x01hi"),
    "publish_qos2_retain": CONN + packet(0x35, s(b"a") + b"\x00\x02x"),
    "subscribe": CONN + packet(0x82, b"\x00\x01" + s(b"a/+") + b"\x01" + s(b"#") + b"\x02"),
    "unsubscribe": CONN + packet(0xa2, b"\x00\x02" + s(b"a/+") + s(b"#")),
    "acks": CONN + b"\x40\x02\x00\x01\x50\x02\x00\x02\x62\x02\x00\x02\x70\x02\x00\x02",
    "ping_disconnect": CONN + b"\xc0\x00\xe0\x00",
    "big_remlen": b"\x30\xff\xff\xff\x7f",
    "connack_suback": b"\x20\x02\x00\x00\x90\x03\x00\x01\x01",
}

for name, seeds in (("broker", broker), ("protocol", protocol)):
    d = os.path.join(HERE, "corpus_" + name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
