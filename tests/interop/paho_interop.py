#!/usr/bin/python3
"""Interoperability with Eclipse Paho (python3-paho-mqtt), a client library
that Starling's users run: QoS 0/1/2 and retained messages over MQTT 3.1.1
and 3.1, offline queueing with a persistent session, a will after an abrupt
disconnect, and a 2 MB payload. Usage: paho_interop.py PORT; exit 0 = all
checks passed (the result of each is printed)."""
import signal, sys, time
import paho.mqtt.client as mqtt
signal.alarm(60)  # every wait below is bounded; this bounds the whole run
port = int(sys.argv[1])
results = {}
def wait(cond, t=5):
    end = time.time() + t
    while time.time() < end:
        if cond(): return True
        time.sleep(0.02)
    return False

# 1. basic QoS 0/1/2 and retained, MQTT 3.1.1 and 3.1
for proto, name in [(mqtt.MQTTv311, "311"), (mqtt.MQTTv31, "31")]:
    got = []
    sub = mqtt.Client("sub" + name, protocol=proto)
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.qos, m.retain))
    sub.connect("127.0.0.1", port); sub.loop_start()
    sub.subscribe([("p/#", 2)]); time.sleep(0.2)
    pub = mqtt.Client("pub" + name, protocol=proto)
    pub.connect("127.0.0.1", port); pub.loop_start()
    for q in (0, 1, 2):
        pub.publish("p/q%d" % q, b"m%d" % q, qos=q).wait_for_publish()
    ok = wait(lambda: len(got) >= 3)
    results["basic_" + name] = ok and sorted(g[2] for g in got) == [0, 1, 2]
    pub.publish("p/ret", b"kept", qos=1, retain=True).wait_for_publish()
    got2 = []
    late = mqtt.Client("late" + name, protocol=proto)
    late.on_message = lambda c, u, m: got2.append((m.topic, m.payload, m.retain))
    late.connect("127.0.0.1", port); late.loop_start(); late.subscribe("p/ret", 1)
    results["retained_" + name] = wait(lambda: got2 == [("p/ret", b"kept", True)])
    pub.publish("p/ret", b"", qos=1, retain=True).wait_for_publish()
    for c in (sub, pub, late): c.loop_stop(); c.disconnect()

# 2. offline queueing with a persistent session
got = []
c = mqtt.Client("persist", clean_session=False)
c.connect("127.0.0.1", port); c.loop_start(); c.subscribe("off/#", 1); time.sleep(0.2)
c.loop_stop(); c.disconnect()
p = mqtt.Client("offpub"); p.connect("127.0.0.1", port); p.loop_start()
for i in range(5): p.publish("off/x", b"%d" % i, qos=1).wait_for_publish()
p.loop_stop(); p.disconnect()
c = mqtt.Client("persist", clean_session=False)
present = []
c.on_connect = lambda cl, u, f, rc: present.append(f.get("session present"))
c.on_message = lambda cl, u, m: got.append(m.payload)
c.connect("127.0.0.1", port); c.loop_start()
results["offline_queue"] = wait(lambda: len(got) == 5) and got == [b"0", b"1", b"2", b"3", b"4"] and present == [1]
c.loop_stop(); c.disconnect()

# 3. will on abnormal disconnect
got = []
w = mqtt.Client("watcher"); w.on_message = lambda cl, u, m: got.append(m.payload)
w.connect("127.0.0.1", port); w.loop_start(); w.subscribe("will/#", 1); time.sleep(0.2)
d = mqtt.Client("dier"); d.will_set("will/dier", b"gone", qos=1)
d.connect("127.0.0.1", port)
for _ in range(20):  # drive the handshake by hand, then vanish without DISCONNECT
    d.loop(0.05)
d.socket().close()
results["will"] = wait(lambda: got == [b"gone"])
w.loop_stop(); w.disconnect()

# 4. large payload (2 MB) at QoS 1
got = []
s = mqtt.Client("bigsub"); s.on_message = lambda cl, u, m: got.append(len(m.payload))
s.connect("127.0.0.1", port); s.loop_start(); s.subscribe("big", 1); time.sleep(0.2)
p = mqtt.Client("bigpub"); p.connect("127.0.0.1", port); p.loop_start()
p.publish("big", b"x" * (2 * 1024 * 1024), qos=1).wait_for_publish()
results["large_payload"] = wait(lambda: got == [2 * 1024 * 1024])
for cl in (s, p): cl.loop_stop(); cl.disconnect()
print(results)
sys.exit(0 if all(results.values()) else 1)
