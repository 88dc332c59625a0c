#!/bin/sh
# Starling against Mosquitto on loopback (tests/bench/README.md).
#   tests/bench/run.sh deps           make sure mosquitto and gnuplot-nox are installed
#   tests/bench/run.sh full  [BUILD]  every scenario on both brokers, A B A B, 3 rounds
#   tests/bench/run.sh quick [BUILD]  smaller counts, one round (development)
# BUILD (default build) holds starling and starling-bench; the output goes
# to BUILD/bench: results.md (table), results.txt (every RESULT line),
# chart.png or chart.svg, logs/ (broker and generator stderr per run),
# certs/ (the CA and server certificate of the TLS scenarios, made here).
# Exit status 1 if any Starling run failed (loss, stall, crash, timeout).
set -eu

deps() {
    "$(dirname "$0")/../../tools/deps.sh" bench
}

mode=${1:-}
build=${2:-build}
case $mode in
deps) deps; exit 0 ;;
full | quick) ;;
*) echo "usage: $0 deps | full [BUILD] | quick [BUILD]" >&2; exit 2 ;;
esac

bench=$build/starling-bench
starling=$build/starling
mosquitto=/usr/sbin/mosquitto
out=$build/bench
logs=$out/logs
raw=$out/results.txt
for f in "$bench" "$starling" "$mosquitto"; do
    [ -x "$f" ] || { echo "run.sh: $f is missing (make bench builds it)" >&2; exit 1; }
done
rm -rf "$logs" "$out/bin"
mkdir -p "$logs" "$out/bin"
# Copies, so a rebuild of BUILD during the run cannot mix two versions.
cp "$bench" "$starling" "$out/bin/"
bench=$out/bin/starling-bench
starling=$out/bin/starling
: >"$raw"
: >"$out/notes.txt"

# 100,000 connections need as many descriptors in both brokers and in the
# generator; root may raise the hard limit (up to fs.nr_open).
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# 100,000 connections need a descriptor limit above that in all three
# processes; where the hard limit cannot be raised (no CAP_SYS_RESOURCE,
# e.g. in a container) the most the limit allows is tried instead, and said.
big_conns() {
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -ge 101024 ]; then
        echo "conns100k conns --conns 100000 --timeout 240"
    else
        echo "conns_max conns --conns $((hard - 1000)) --per-source 5000 --timeout 240"
        echo "conns100k not possible here: the open-files hard limit is $hard and cannot be raised (CAP_SYS_RESOURCE missing), so conns_max holds $((hard - 1000)) connections instead" >>"$out/notes.txt"
    fi
}

# label scenario [options]; the same counts for both brokers.
if [ "$mode" = full ]; then
    rounds=3
    scenarios='fanin_qos0 fanin_qos0 --count 1000000
fanin_qos1 fanin_qos1 --count 300000
fanin_qos1_persist_off fanin_qos1 --count 300000 --clean 0
fanin_qos1_persist_periodic fanin_qos1 --count 300000 --clean 0
fanin_qos1_persist fanin_qos1 --count 300000 --clean 0
fanin_qos1_persist_durable fanin_qos1 --count 300000 --clean 0
fanout fanout --count 10000
latency latency --rate 10000 --secs 3
latency_busypoll latency --rate 10000 --secs 3
qos2 qos2 --count 50000 --inflight 20
conns conns --conns 10000
retained retained --count 50000
fanin_qos0_tls fanin_qos0 --count 1000000
fanin_qos1_tls fanin_qos1 --count 300000
handshakes_full handshakes_full --count 1500
handshakes_resumed handshakes_resumed --count 10000
conns_tls conns --conns 3000'
    once=$(big_conns)
else
    rounds=1
    scenarios='fanin_qos0 fanin_qos0 --count 100000
fanin_qos1 fanin_qos1 --count 50000
fanin_qos1_persist_off fanin_qos1 --count 50000 --clean 0
fanin_qos1_persist_periodic fanin_qos1 --count 50000 --clean 0
fanin_qos1_persist fanin_qos1 --count 50000 --clean 0
fanin_qos1_persist_durable fanin_qos1 --count 50000 --clean 0
fanout fanout --count 1000
latency latency --rate 10000 --secs 1
latency_busypoll latency --rate 10000 --secs 1
qos2 qos2 --count 10000 --inflight 20
conns conns --conns 2000
retained retained --count 10000
fanin_qos0_tls fanin_qos0 --count 100000
fanin_qos1_tls fanin_qos1 --count 100000
handshakes_full handshakes_full --count 400
handshakes_resumed handshakes_resumed --count 3000
conns_tls conns --conns 1000'
    once=''
fi

# Same limits for both: inflight 20, queues that never drop, 16 MiB packets,
# no persistence, TCP_NODELAY, errors and warnings logged only.
starling_conf=$out/starling.json
cat >"$starling_conf" <<'EOF'
{
    "listeners": [{ "bind": "127.0.0.1", "port": 1883 }],
    "limits": {
        "max_connections": 200000,
        "max_packet_size": 16777216,
        "max_inflight": 20,
        "max_queued_messages": 1000000,
        "max_queued_bytes": 0
    },
    "log": { "level": "warning" },
    "auth": { "allow_anonymous": true }
}
EOF

# The same, plus busy polling: the latency_busypoll rows show what trading a
# busy core for latency buys (Mosquitto has no such option and runs as is).
starling_conf_busypoll=$out/starling-busypoll.json
sed 's/"auth": { "allow_anonymous": true }/"auth": { "allow_anonymous": true },\n    "performance": { "busy_poll_us": 1000 }/' \
    "$starling_conf" >"$starling_conf_busypoll"

# The TLS scenarios' certificates, fresh for every run and never committed:
# a CA and an ECDSA P-256 server certificate for IP 127.0.0.1 signed by it.
# Mosquitto started as root reads them as user mosquitto, hence 0644.
certs=$(cd "$out" && pwd)/certs # absolute: Starling reads paths relative to its config
make_certs() {
    rm -rf "$certs"
    mkdir -p "$certs"
    (
        cd "$certs"
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key
        openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=starling-bench CA" -out ca.crt
        openssl ecparam -name prime256v1 -genkey -noout -out server.key
        openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -sha256 -extfile server.ext -out server.crt
        chmod 0644 ca.key server.key
    ) >"$logs/certs.log" 2>&1 || { echo "run.sh: making certificates failed, see $logs/certs.log" >&2; exit 1; }
}
make_certs

# TLS runs: the same brokers and limits, the listener with TLS (see Fairness
# in README.md); the generator verifies against the CA.
is_tls() { # label
    case $1 in *_tls | handshakes_*) return 0 ;; *) return 1 ;; esac
}

# The same as starling.json, the listener with the bench certificate.
starling_conf_tls=$out/starling-tls.json
sed "s|\"port\": 1883 }|\"port\": 1883,\n        \"tls\": { \"cert\": \"$certs/server.crt\", \"key\": \"$certs/server.key\" } }|" \
    "$starling_conf" >"$starling_conf_tls"

# Persistence runs (fanin_qos1_persist*): a persistent QoS 1 subscriber
# (--clean 0), so messages are stored while in flight. Mosquitto runs once
# per round (label fanin_qos1_persist, `persistence true`, default
# autosave), Starling once per persistence.mode (fanin_qos1_persist_MODE);
# the table sets each mode beside that one Mosquitto run.
persist_mode() { # label: off, periodic, durable, "mosquitto" or nothing
    case $1 in
    fanin_qos1_persist) echo mosquitto ;;
    fanin_qos1_persist_*) echo "${1#fanin_qos1_persist_}" ;;
    esac
}

brokers_for() { # label
    case $(persist_mode "$1") in
    "") echo starling mosquitto ;;
    mosquitto) echo mosquitto ;;
    *) echo starling ;;
    esac
}

# Each persistence run gets a fresh folder for the database, on the file
# system of $TMPDIR (its type is in results.md: tmpfs would make fsync free).
# Mosquitto started as root writes it as user mosquitto, hence 0777.
new_persist_dir() {
    pdir=$(mktemp -d "${TMPDIR:-/tmp}/starling-bench-db.XXXXXX")
    chmod 0777 "$pdir"
}
persist_fs=$(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $2 " (" $7 ")" }')

# Bytes of the database files in $pdir: Starling's SQLite file and its -wal,
# or Mosquitto's mosquitto.db.
db_bytes() {
    n=0
    for f in "$pdir/starling.db" "$pdir/starling.db-wal" "$pdir/mosquitto.db"; do
        [ -f "$f" ] && n=$((n + $(stat -c %s "$f")))
    done
    echo "$n"
}

# The bench configuration plus the persistence section, written into the
# run's folder: "path": "starling.db" is found beside the file.
starling_conf_persist() { # mode
    sed "s/\"auth\": { \"allow_anonymous\": true }/\"auth\": { \"allow_anonymous\": true },\n    \"persistence\": { \"mode\": \"$1\", \"path\": \"starling.db\" }/" \
        "$starling_conf" >"$pdir/starling.json"
}

mosquitto_conf() { # port [tls] [persistence folder]
    cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
max_inflight_messages 20
max_queued_messages 1000000
max_queued_bytes 0
max_packet_size 16777216
set_tcp_nodelay true
sys_interval 0
log_dest stderr
log_type error
log_type warning
EOF
    [ -z "${2:-}" ] || printf 'certfile %s\nkeyfile %s\ncafile %s\n' \
        "$certs/server.crt" "$certs/server.key" "$certs/ca.crt"
    if [ -n "${3:-}" ]; then
        printf 'persistence true\npersistence_location %s/\n' "$3"
    else
        echo "persistence false"
    fi
}

# Starts one broker in the background: sets bpid (and pdir for a
# persistence run, else pdir="").
start_broker() { # broker port log label
    pdir=""
    [ -z "$(persist_mode "$4")" ] || new_persist_dir
    if [ "$1" = starling ]; then
        conf=$starling_conf
        [ "$4" = latency_busypoll ] && conf=$starling_conf_busypoll
        ! is_tls "$4" || conf=$starling_conf_tls
        if [ -n "$pdir" ]; then
            starling_conf_persist "$(persist_mode "$4")"
            conf=$pdir/starling.json
        fi
        "$starling" -c "$conf" -p "$2" </dev/null >>"$3" 2>&1 &
    else
        tls=""
        ! is_tls "$4" || tls=tls
        mosquitto_conf "$2" "$tls" "$pdir" >"$logs/mosquitto-$2.conf"
        "$mosquitto" -c "$logs/mosquitto-$2.conf" </dev/null >>"$3" 2>&1 &
    fi
    bpid=$!
}

# A crashed broker is a zombie until reaped: its state letter says so.
broker_state() {
    awk '{ print $3 }' "/proc/$bpid/stat" 2>/dev/null || echo gone
}

stop_broker() { # broker label round
    state=$(broker_state)
    kill -TERM "$bpid" 2>/dev/null || true
    i=0
    while [ "$(broker_state)" != Z ] && [ "$(broker_state)" != gone ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ $i -lt 100 ] || { kill -KILL "$bpid" 2>/dev/null || true; echo "$1 $2 round $3: did not exit within 10 s of SIGTERM, killed" >>"$out/notes.txt"; }
    rc=0
    wait "$bpid" || rc=$?
    case $state in
    Z | gone) echo "$1 $2 round $3: broker died during the run (exit status $rc)" >>"$out/notes.txt" ;;
    *) [ $rc -eq 0 ] || [ $i -ge 100 ] || echo "$1 $2 round $3: exit status $rc after SIGTERM" >>"$out/notes.txt" ;;
    esac
}

run_one() { # broker label round timeout scenario [options]
    broker=$1 label=$2 round=$3 limit=$4
    shift 4
    port=$("$bench" freeport)
    log=$logs/$label-$broker-r$round.log
    start_broker "$broker" "$port" "$log" "$label"
    line=""
    tls=""
    ! is_tls "$label" || tls="--tls $certs/ca.crt"
    if "$bench" waitport --port "$port" --pid "$bpid" --timeout 10 </dev/null 2>>"$log"; then
        # shellcheck disable=SC2086
        line=$(timeout "$limit" "$bench" "$@" $tls --port "$port" --pid "$bpid" --name "$broker" \
            --label "$label" </dev/null 2>>"$log" | grep '^RESULT' || true)
    else
        echo "starling-bench: $label on $broker FAILED: the broker did not accept connections (it exited, or not within 10 s)" >>"$log"
    fi
    [ -n "$line" ] || line="RESULT scenario=$label broker=$broker status=fail"
    # Persistence runs: the database at the end of the run (broker still up:
    # what it holds under load) and after SIGTERM (what a restart reads).
    [ -z "$pdir" ] || line="$line db_bytes=$(db_bytes)"
    stop_broker "$broker" "$label" "$round"
    if [ -n "$pdir" ]; then
        line="$line db_stop_bytes=$(db_bytes)"
        rm -rf "$pdir"
    fi
    echo "$line round=$round" >>"$raw"
    echo "$line" | awk -v r="$round" '{ printf "  round %s  %-11s %-10s", r, substr($2, 10), substr($3, 8);
        for (i = 4; i <= NF; i++) if ($i ~ /^(status|rate|lost|dup|p99_us|per_conn_bytes|db_bytes|db_stop_bytes)=/) printf " %s", $i;
        print "" }'
}

started=$(date +%s)
echo "starling-bench: $mode run, $rounds round(s), output in $out"
r=1
while [ $r -le "$rounds" ]; do
    echo "$scenarios" | while read -r label scen opts; do
        # shellcheck disable=SC2086
        for broker in $(brokers_for "$label"); do run_one $broker "$label" $r 150 "$scen" $opts --timeout 120; done
    done
    r=$((r + 1))
done
if [ -n "$once" ]; then
    echo "$once" | while read -r label scen opts; do
        # shellcheck disable=SC2086
        for broker in starling mosquitto; do run_one $broker "$label" 1 270 "$scen" $opts; done
    done
fi
elapsed=$(($(date +%s) - started))

# --- the table --------------------------------------------------------------
# awk functions the summaries share: kv(line, key) is the value of key in
# a RESULT line, median(s) the median of a space-separated list of numbers.
awk_lib='
    function kv(line, key,   n, i, f, a) {
        n = split(line, f, " ")
        for (i = 1; i <= n; i++) { split(f[i], a, "="); if (a[1] == key) return a[2] }
        return ""
    }
    function median(s,   n, i, j, t, v) {
        n = split(s, v, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        if (n == 0) return ""
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
'

# Medians over rounds per (scenario, broker); loss and duplicates summed.
summary() {
    awk -v rounds="$rounds" "$awk_lib"'
    function med(k) { return median(vals[k]) }
    {
        id = kv($0, "scenario") SUBSEP kv($0, "broker")
        runs[id]++
        if (kv($0, "status") == "ok") ok[id]++
        lost[id] += kv($0, "lost"); dup[id] += kv($0, "dup")
        split("rate msgs p50_us p99_us p999_us broker_cpu_s bench_cpu_s per_conn_bytes", keys, " ")
        for (k in keys) { v = kv($0, keys[k]); if (v != "") vals[id SUBSEP keys[k]] = vals[id SUBSEP keys[k]] " " v }
        # What the broker does per CPU second: comparable even where the
        # generator, not the broker, set the pace (handshakes_full).
        if (kv($0, "status") == "ok" && kv($0, "broker_cpu_s") + 0 > 0)
            vals[id SUBSEP "cpu_rate"] = vals[id SUBSEP "cpu_rate"] " " kv($0, "msgs") / kv($0, "broker_cpu_s")
    }
    function num(x) { return x == "" ? "-" : x }
    function fmt(x) { return x == "" ? "-" : (x >= 1000 ? sprintf("%.0f", x) : sprintf("%.3g", x)) }
    # msc: the scenario of the Mosquitto side, when it is another (persistence).
    function row(sc, key, title, better, target, kind, msc,   s, m, ratio, adv, met, S, M) {
        S = sc SUBSEP "starling"; M = (msc == "" ? sc : msc) SUBSEP "mosquitto"
        if (!runs[S] && !runs[M]) return
        s = med(S SUBSEP key); m = med(M SUBSEP key)
        ratio = (s != "" && m != "" && m + 0 > 0) ? s / m : ""
        adv = ratio == "" ? "" : (better == "higher" ? ratio : (s + 0 > 0 ? m / s : ""))
        met = "-"
        if (kind == "x" && ratio != "") met = (adv >= target + 0 && ok[S] == runs[S]) ? "yes" : "no"
        if (kind == "lat" && s != "") met = (s + 0 <= 1000 && (m == "" || s + 0 <= m + 0)) ? "yes" : "no"
        if (kind == "mem" && ratio != "") met = (s + 0 <= m + 0) ? "yes" : "no"
        if (kind == "held") met = (s + 0 >= target + 0 && ok[S] == runs[S]) ? "yes" : "no"
        printf "| %s | %s (%s is better) | %s | %s | %s | %s | %s | %s / %s | %s / %s | %d / %d | %d / %d | %d/%d / %d/%d |\n", \
            sc, title, better, fmt(s), fmt(m), ratio == "" ? "-" : sprintf("%.2f", ratio), \
            kind == "x" ? ">= " target "x" : (kind == "held" ? target " held" : target), met, \
            num(med(S SUBSEP "broker_cpu_s")), num(med(M SUBSEP "broker_cpu_s")), \
            num(med(S SUBSEP "bench_cpu_s")), num(med(M SUBSEP "bench_cpu_s")), \
            lost[S], lost[M], dup[S], dup[M], ok[S], runs[S], ok[M], runs[M]
        if (adv != "" && kind != "held") printf "%s\t%s\n", sc "_" key, adv > "'"$out"'/chart_ratio.dat"
    }
    END {
        print "| scenario | metric | Starling | Mosquitto | Starling / Mosquitto | target | met | broker CPU s (S / M) | generator CPU s (S / M) | lost (S / M) | dup (S / M) | runs ok (S / M) |"
        print "|---|---|---:|---:|---:|---|---|---|---|---|---|---|"
        row("fanin_qos0", "rate", "msgs/s", "higher", 5, "x")
        row("fanin_qos1", "rate", "msgs/s", "higher", 3, "x")
        row("fanin_qos1_persist_durable", "rate", "msgs/s, persistent QoS 1 subscriber: Starling durable vs Mosquitto persistence true", "higher", 1, "x", "fanin_qos1_persist")
        row("fanin_qos1_persist_periodic", "rate", "msgs/s, the same: Starling periodic (flush_interval_ms 1000) vs Mosquitto persistence true", "higher", "-", "", "fanin_qos1_persist")
        row("fanin_qos1_persist_off", "rate", "msgs/s, the same: Starling persistence off vs Mosquitto persistence true", "higher", "-", "", "fanin_qos1_persist")
        row("fanout", "rate", "deliveries/s", "higher", 5, "x")
        row("qos2", "rate", "msgs/s", "higher", 2, "x")
        row("latency", "p50_us", "p50 us", "lower", "-", "")
        row("latency", "p99_us", "p99 us", "lower", "<= 1000 us and <= Mosquitto", "lat")
        row("latency", "p999_us", "p99.9 us", "lower", "-", "")
        row("latency_busypoll", "p50_us", "p50 us, Starling busy_poll_us=1000", "lower", "-", "")
        row("latency_busypoll", "p99_us", "p99 us, Starling busy_poll_us=1000", "lower", "<= 1000 us and <= Mosquitto", "lat")
        row("conns", "per_conn_bytes", "bytes per idle connection", "lower", "<= Mosquitto", "mem")
        row("conns100k", "msgs", "connections held (one run)", "higher", 100000, "held")
        row("conns100k", "per_conn_bytes", "bytes per connection at 100k (one run)", "lower", "-", "")
        row("conns_max", "msgs", "connections held (one run, fd limit)", "higher", "100000 held: not testable here", "")
        row("conns_max", "per_conn_bytes", "bytes per connection (one run)", "lower", "-", "")
        row("retained", "rate", "msgs/s to a new r/# subscriber", "higher", 2, "x")
        row("fanin_qos0_tls", "rate", "msgs/s over TLS", "higher", 5, "x")
        row("fanin_qos1_tls", "rate", "msgs/s over TLS", "higher", 5, "x")
        row("handshakes_full", "rate", "full TLS handshakes/s", "higher", 1, "x")
        row("handshakes_full", "cpu_rate", "full handshakes per broker CPU second", "higher", 1, "x")
        row("handshakes_resumed", "rate", "resumed TLS handshakes/s", "higher", 1, "x")
        row("handshakes_resumed", "cpu_rate", "resumed handshakes per broker CPU second", "higher", 1, "x")
        row("conns_tls", "per_conn_bytes", "bytes per idle TLS connection", "lower", "<= Mosquitto", "mem")
        for (id in runs) {
            split(id, p, SUBSEP)
            printf "%s\t%s\t%s\t%s\t%s\n", p[1], p[2], med(id SUBSEP "p50_us"), med(id SUBSEP "p99_us"), med(id SUBSEP "p999_us") > "'"$out"'/latency_all.dat"
        }
    }' "$raw"
}

chart() {
    awk -F'\t' '$1 == "latency" { v[$2] = $0 } END {
        split(v["starling"], s, "\t"); split(v["mosquitto"], m, "\t")
        printf "p50\t%s\t%s\np99\t%s\t%s\np99.9\t%s\t%s\n", s[3], m[3], s[4], m[4], s[5], m[5] }' \
        "$out/latency_all.dat" >"$out/chart_latency.dat"
    if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
        term='pngcairo size 1400,560 font ",10"'
        chart=chart.png
    else
        term='svg size 1400,560'
        chart=chart.svg
    fi
    (
        cd "$out"
        gnuplot <<EOF
set terminal $term
set output "$chart"
set multiplot layout 1,2
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set grid y
set logscale y
set xtics rotate by -30 noenhanced
set key noenhanced
set title "Starling vs Mosquitto, times better (>1 = Starling better; latency and memory inverted)"
set yrange [0.1:*]
plot "chart_ratio.dat" using 2:xtic(1) title "Starling advantage", \
     "" using 0:2:(sprintf("%.1fx", \$2)) with labels offset 0,0.8 notitle, \
     1 with lines dt 2 lc rgb "black" title "parity"
set title "Latency, 10,000 msg/s QoS 0 (microseconds, lower is better)"
set style histogram clustered gap 1
set yrange [1:*]
plot "chart_latency.dat" using 2:xtic(1) title "Starling", "" using 3 title "Mosquitto"
unset multiplot
EOF
    ) >>"$logs/gnuplot.log" 2>&1 || chart=""
}

# The TLS runs: what was negotiated, handshakes by kind, and how busy the
# broker and the generator were (CPU / wall time, median): the side near
# 100% of its one core is what limited the run.
tls_summary() {
    awk "$awk_lib"'
    function pct(x) { return x == "" ? "-" : sprintf("%.0f%%", 100 * x) }
    kv($0, "tls") != "" {
        sc = kv($0, "scenario"); b = kv($0, "broker"); id = sc SUBSEP b
        if (!(sc in seen)) { seen[sc] = 1; order[++n] = sc }
        if (kv($0, "tls") != "-") suite[id] = kv($0, "tls")
        full[id] += kv($0, "full"); res[id] += kv($0, "resumed")
        secs = kv($0, "secs")
        if (secs + 0 > 0) {
            bb[id] = bb[id] " " kv($0, "broker_cpu_s") / secs
            gb[id] = gb[id] " " kv($0, "bench_cpu_s") / secs
        }
    }
    function limit(id,   b, g) {
        b = median(bb[id]); g = median(gb[id])
        if (b == "") return "-"
        if (b + 0 >= 0.85) return "broker"
        if (g + 0 >= 0.85) return "generator"
        return "neither (round trips)"
    }
    END {
        if (!n) exit
        print "| TLS scenario | negotiated (Starling) | negotiated (Mosquitto) | handshakes full / resumed (S) | (M) | broker busy (S / M) | generator busy (S / M) | limited by (S / M) |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            S = order[i] SUBSEP "starling"; M = order[i] SUBSEP "mosquitto"
            printf "| %s | %s | %s | %d / %d | %d / %d | %s / %s | %s / %s | %s / %s |\n", order[i], \
                (S in suite) ? suite[S] : "none", (M in suite) ? suite[M] : "none", full[S], res[S], full[M], res[M], \
                pct(median(bb[S])), pct(median(bb[M])), pct(median(gb[S])), pct(median(gb[M])), limit(S), limit(M)
        }
    }' "$raw"
}

# The persistence runs: rate and the database size per mode, medians.
persist_summary() {
    awk "$awk_lib"'
    function kib(x) { return x == "" ? "-" : sprintf("%.0f", x / 1024) }
    kv($0, "db_bytes") != "" {
        id = kv($0, "broker") " " kv($0, "scenario")
        runs[id]++
        if (kv($0, "status") == "ok") ok[id]++
        rate[id] = rate[id] " " kv($0, "rate"); msgs[id] = kv($0, "msgs")
        db[id] = db[id] " " kv($0, "db_bytes"); dbs[id] = dbs[id] " " kv($0, "db_stop_bytes")
    }
    END {
        n = split("starling fanin_qos1_persist_off|starling fanin_qos1_persist_periodic|starling fanin_qos1_persist_durable|mosquitto fanin_qos1_persist", ids, "|")
        split("Starling, persistence.mode off|Starling, periodic (flush_interval_ms 1000)|Starling, durable|Mosquitto, persistence true (autosave at shutdown)", names, "|")
        print "| persistence run | msgs/s | messages | database at the end of the run, KiB (file + -wal) | after SIGTERM, KiB | runs ok |"
        print "|---|---:|---:|---:|---:|---|"
        for (i = 1; i <= n; i++)
            if (runs[ids[i]])
                printf "| %s | %.0f | %s | %s | %s | %d/%d |\n", names[i], median(rate[ids[i]]), msgs[ids[i]], \
                    kib(median(db[ids[i]])), kib(median(dbs[ids[i]])), ok[ids[i]], runs[ids[i]]
    }' "$raw"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rm -f "$out/chart_ratio.dat" "$out/latency_all.dat"
table=$(summary)
tls_table=$(tls_summary)
persist_table=$(persist_summary)
chart
{
    echo "# Starling vs Mosquitto"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run: \`$mode\`, $rounds round(s) per scenario, brokers alternating (Starling, Mosquitto, ...), medians over rounds; the run took ${elapsed} s"
    echo "- machine: $(nproc) CPUs, $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "- versions: $("$starling" --version 2>&1 | head -n 1); mosquitto $("$mosquitto" -h 2>&1 | awk '/version/ { print $3; exit }'); $(gcc --version | head -n 1)"
    echo "- both brokers: loopback, inflight 20, queues 1,000,000 messages / no byte limit, 16 MiB packets, no persistence (but in the fanin_qos1_persist rows), TCP_NODELAY, errors and warnings logged only, a fresh process per run; generator: one thread (tests/bench/README.md)"
    [ -z "$once" ] || echo "- conns100k (or conns_max) runs once per broker (not three rounds), to fit the time budget"
    echo
    echo "$table"
    echo
    echo "Starling / Mosquitto is the plain ratio of the two medians; \"better\" says which direction wins. CPU is the broker's (utime+stime from /proc) and the load generator's (getrusage) over the measured part of each run, median. lost / dup are summed over all rounds."
    echo
    if [ -n "$tls_table" ]; then
        echo "$tls_table"
        echo
        echo "TLS: both brokers use the same certificate (ECDSA P-256, made in \`certs/\`); the generator offers only TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256, P-256. Busy = CPU seconds / wall seconds of the measured part (one core = 100%); a run is limited by whichever side is at 85% or more (\"neither\": round trips, or other processes took the CPU). Where the generator limits (handshakes_full against Mosquitto), compare the \"per broker CPU second\" row."
        echo
    fi
    if [ -n "$persist_table" ]; then
        echo "$persist_table"
        echo
        echo "Persistence: \`fanin_qos1\` with the subscriber a persistent session (clean session 0, fixed client id, QoS 1), so every message is stored while in flight; each run starts on an empty database in a fresh folder under ${TMPDIR:-/tmp}, file system ${persist_fs:-unknown}. Starling: \`persistence.mode\` as named, \`path\` in that folder; Mosquitto: \`persistence true\`, \`persistence_location\` that folder, default \`autosave_interval\` (1800 s: it writes only at shutdown). The database sizes are medians; Starling's include the SQLite \`-wal\` file."
        echo
    fi
    [ -z "$chart" ] || echo "![Starling vs Mosquitto]($chart)"
    echo
    echo "## Notes"
    echo
    if grep -q 'status=fail' "$raw" || [ -s "$out/notes.txt" ]; then
        grep -h 'FAILED' "$logs"/*.log 2>/dev/null | sed 's/^/- /' || true
        sed 's/^/- /' "$out/notes.txt"
    else
        echo "- every run passed its checks"
    fi
    for f in "$logs"/*-starling-*.log "$logs"/*-mosquitto-*.log; do
        [ -f "$f" ] || continue
        n=$(grep -cv 'FAILED' "$f" || true)
        [ "$n" -eq 0 ] || echo "- $(basename "$f"): $n broker log line(s), first: \`$(grep -v 'FAILED' "$f" | head -n 1 | cut -c1-160)\`"
    done
} >"$out/results.md"
cat "$out/results.md"
echo "make bench: results in $out/results.md (runs took ${elapsed} s)"
if grep 'broker=starling' "$raw" | grep -q 'status=fail'; then
    echo "FAILED: at least one Starling run failed its checks (see Notes above)" >&2
    exit 1
fi
