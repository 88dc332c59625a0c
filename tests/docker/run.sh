#!/usr/bin/env bash
# tests/docker/run.sh - build the image from docker/Dockerfile and check it
# the way a user runs it (`make test-docker`).
#
# Engine: `docker` when `docker info` works, else podman (rootful,
# daemonless).  Where no image registry answers, the base image
# debian:bookworm-slim is made once with debootstrap --variant=minbase from
# the Debian mirror apt already uses, and cached (with podman's storage) in
# $STARLING_DOCKER_CACHE (default /var/tmp/starling-docker).  Run as root,
# missing tools are installed with apt-get; otherwise the apt-get line is
# printed and the script fails.
#
# Checks: the image and its metadata, MQTT through a port published on
# 127.0.0.1, the HEALTHCHECK, the broker's uid, a retained and a queued QoS 1
# message surviving `stop` + `start` and a new container on the same volume,
# and a password file change applied by SIGHUP.  One `ok - ...` or
# `not ok - ...` line per check, then `N passed, N failed`; exit 1 on any
# failure.  Everything made here (containers, volumes, the image) is removed
# on exit; only the cached base image stays.
#
# Environment: STARLING_DOCKER_CACHE (see above), STARLING_DOCKER_NETWORK
# (publish, the default, or host), STARLING_DOCKER_BUILD_TIMEOUT (seconds,
# default 1800), STARLING_DOCKER_MIRROR (debootstrap's mirror).
set -eu -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${STARLING_DOCKER_CACHE:-/var/tmp/starling-docker}
NETMODE=${STARLING_DOCKER_NETWORK:-publish}
BUILD_TIMEOUT=${STARLING_DOCKER_BUILD_TIMEOUT:-1800}
BASE=docker.io/library/debian:bookworm-slim

T0=$SECONDS
PASS=0 FAIL=0
TIMES=()
say()    { printf '# [%3ds] %s\n' "$((SECONDS - T0))" "$*"; }
ok()     { PASS=$((PASS + 1)); echo "ok - $*"; }
notok()  { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check()  { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
timed()  { TIMES+=("$1: $2s"); }
finish() {
    local t
    for t in "${TIMES[@]}"; do say "time $t"; done
    say "total $((SECONDS - T0))s"
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
die()    { notok "$*"; finish || true; exit 1; }

# ------------------------------------------------------------------ engine
if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
    ENGINE=docker
else
    ENGINE=podman
fi
say "engine: $ENGINE"

# ------------------------------------------------------------------ room
# A cold run needs about 600 MB (the base rootfs, its tar, podman's layers
# and the build stage's packages). A machine without that is not a failure
# of the image: say so and stop, as a test without a privilege skips.
mkdir -p "$CACHE"
free_kb=$(df -Pk "$CACHE" | awk 'NR == 2 { print $4 }')
if [ "${free_kb:-0}" -lt 1048576 ]; then
    say "skipped: $((${free_kb:-0} / 1024)) MB free in $CACHE, 1024 MB needed"
    echo "0 passed, 0 failed"
    exit 0
fi

# ------------------------------------------------------------------ tools
need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl       >/dev/null 2>&1 || need+=(openssl)
# to parse docker/compose.yaml as compose does (Debian's docker-compose
# needs no daemon for `config`)
if ! { command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; }; then
    command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
fi
if [ "$ENGINE" = podman ]; then
    command -v podman      >/dev/null 2>&1 || need+=(podman)
    command -v runc        >/dev/null 2>&1 || need+=(runc)
    command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
    command -v iptables    >/dev/null 2>&1 || need+=(iptables)
fi
if [ ${#need[@]} -gt 0 ]; then
    # shellcheck disable=SC2207
    need=($(printf '%s\n' "${need[@]}" | sort -u))
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-docker needs these Debian packages: ${need[*]}" >&2
        echo "Install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    say "missing: ${need[*]}; apt-get update, then apt-get install -y ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    say "apt-get installs: $(apt-get install -s -y "${need[@]}" | awk '$1 == "Inst" { printf "%s ", $2 }')"
    apt-get install -y -q -o DPkg::Lock::Timeout=600 "${need[@]}" >"/tmp/starling-docker-apt.$$.log" 2>&1 ||
        { tail -n 20 "/tmp/starling-docker-apt.$$.log"; rm -f "/tmp/starling-docker-apt.$$.log"; die "apt-get install ${need[*]}"; }
    rm -f "/tmp/starling-docker-apt.$$.log"
    for p in "${need[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || die "apt-get install $p"
    done
fi
if [ "$ENGINE" = podman ] && [ "$(id -u)" -ne 0 ]; then
    echo "test-docker with podman runs it rootful: run it as root (sudo make test-docker)" >&2
    exit 1
fi

# E: the engine with the options this machine needs.  For podman: its own
# storage under the cache dir, runc (crun refuses hybrid cgroup hosts),
# cgroupfs and a file event log (no systemd), and a run root that starts
# afresh after a reboot (/run need not be a tmpfs).
if [ "$ENGINE" = podman ]; then
    mkdir -p "$CACHE"
    exec 8>"$CACHE/lock"
    timeout 600 flock 8 || die "cache $CACHE is locked by another run"
    boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
    if [ "$(cat "$CACHE/boot_id" 2>/dev/null || true)" != "$boot" ]; then
        rm -rf "$CACHE/run"
        echo "$boot" >"$CACHE/boot_id"
    fi
    mkdir -p "$CACHE/run"
    if grep -qw overlay /proc/filesystems; then driver=overlay; else driver=vfs; fi
    PODMAN_OPTS=(--root "$CACHE/storage-$driver" --runroot "$CACHE/run/storage"
                 --tmpdir "$CACHE/run/libpod" --storage-driver "$driver"
                 --runtime runc --cgroup-manager cgroupfs --events-backend file)
    ECMD=(podman "${PODMAN_OPTS[@]}")
else
    ECMD=(docker)
fi
E() { "${ECMD[@]}" "$@"; }
image_exists() { E image inspect "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ base image
# The Debian mirror apt uses for a suite (deb822 .sources, then one-line lists).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
            { u = ""; hit = 0; deb = 1
              for (i = 1; i <= NF; i++) {
                  if ($i ~ /^URIs:/)    { split($i, a, /[ \t]+/); u = a[2] }
                  if ($i ~ /^Suites:/)  { n = split($i, a, /[ \t]+/); for (j = 2; j <= n; j++) if (a[j] == s) hit = 1 }
                  if ($i ~ /^Types:/ && $i !~ /[ \t]deb([ \t]|$)/) deb = 0
                  if ($i ~ /^Enabled:[ \t]*no/) deb = 0 }
              if (hit && deb && u != "") print u }' "$f"
    done
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk -v s="$1" '$1 == "deb" && $3 == s { print $2 }'
}

registry_reachable() {
    timeout 5 bash -c 'exec 3<>/dev/tcp/registry-1.docker.io/443' 2>/dev/null
}

# debian:bookworm-slim, made like the official one: minbase, apt configured
# not to keep caches, documentation except copyright files left out.
make_base() {
    local tar="$CACHE/debian-bookworm-slim.tar" r="$CACHE/rootfs.tmp" mirror sec
    if [ ! -s "$tar" ]; then
        mirror=${STARLING_DOCKER_MIRROR:-$(apt_mirror bookworm | head -n 1)}
        [ -n "$mirror" ] || { say "no bookworm mirror in apt's sources"; return 1; }
        sec=$(apt_mirror bookworm-security | head -n 1)
        say "debootstrap --variant=minbase bookworm from $mirror"
        rm -rf "$r"
        if ! timeout 1200 debootstrap --variant=minbase bookworm "$r" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
            tail -n 20 "$CACHE/debootstrap.log"
            rm -rf "$r"
            return 1
        fi
        rm -f "$r/etc/apt/sources.list"
        {
            printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
            [ -z "$sec" ] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$sec"
        } >"$r/etc/apt/sources.list.d/debian.sources"
        # a proxy the host's apt needs, the image's apt needs as well
        grep -lis 'Acquire::.*proxy' /etc/apt/apt.conf.d/* 2>/dev/null | while read -r f; do cp "$f" "$r/etc/apt/apt.conf.d/"; done
        cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
        echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
        printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
            'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
            >"$r/etc/dpkg/dpkg.cfg.d/docker"
        printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
        chmod 755 "$r/usr/sbin/policy-rc.d"
        find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
        find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
        find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
        rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/var/cache/apt/*.bin \
               "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/* \
               "$r"/tmp/* "$r"/etc/hostname "$r"/etc/resolv.conf
        : >"$r/etc/machine-id"
        tar -C "$r" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
        rm -rf "$r"
    fi
    say "importing $tar as $BASE"
    E import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tar" "$BASE" >/dev/null 2>&1
}

t=$SECONDS
if ! image_exists "$BASE"; then
    if registry_reachable && timeout 300 "${ECMD[@]}" pull "$BASE" >/dev/null 2>&1; then
        say "pulled $BASE"
    else
        command -v debootstrap >/dev/null 2>&1 || die "no registry and no debootstrap to make $BASE (apt-get install debootstrap)"
        df -h "$CACHE" | sed 's/^/# /'
        make_base || die "making the base image $BASE (log: $CACHE/debootstrap.log)"
    fi
fi
[ "$ENGINE" = podman ] && flock -u 8
timed "base image" $((SECONDS - t))

# ------------------------------------------------------------------ cleanup
ID=$$-$RANDOM
TAG=localhost/starling-test-$ID:latest
C1=starling-test-$ID-a
C2=starling-test-$ID-b
C3=starling-test-$ID-auth
VOL=starling-test-$ID-data
WORK=$(mktemp -d /tmp/starling-docker-test.XXXXXX)
cleanup_keep_work() {
    local c
    for c in "$C1" "$C2" "$C3"; do E rm -f -v "$c" >/dev/null 2>&1 || true; done
    E volume rm -f "$VOL" >/dev/null 2>&1 || true
    E rmi -f "$TAG" >/dev/null 2>&1 || true
}
cleanup() { cleanup_keep_work; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# What exists before, to check that the run leaves nothing behind.
inventory() {
    { E ps -a --format '{{.Names}}'; E volume ls -q; E images -q --no-trunc; } 2>/dev/null | sort
}
inventory >"$WORK/before"

# ------------------------------------------------------------------ build
say "building docker/Dockerfile (context $ROOT)"
t=$SECONDS
if [ "$ENGINE" = podman ]; then
    # --format docker keeps HEALTHCHECK; RUN gets the host network to reach
    # the mirror; --layers=false leaves no intermediate images behind.
    build=(build --pull=never --layers=false --format docker --network host)
else
    build=(build)
fi
if timeout "$BUILD_TIMEOUT" "${ECMD[@]}" "${build[@]}" -f "$ROOT/docker/Dockerfile" -t "$TAG" "$ROOT" >"$WORK/build.log" 2>&1; then
    ok "image builds from docker/Dockerfile"
else
    tail -n 40 "$WORK/build.log" | sed 's/^/# /'
    die "image builds from docker/Dockerfile"
fi
timed build $((SECONDS - t))
SIZE=$(E image inspect --format '{{.Size}}' "$TAG")
SIZE_MB=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1e6 }')
say "image size: $SIZE_MB MB ($SIZE bytes; eclipse-mosquitto's alpine image: about 10 MB)"
grep -E '^/[^ ]* <- ' "$WORK/build.log" | sed 's/^/# library: /' || true

meta=$(E image inspect --format '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{.Config.StopSignal}}' "$TAG")
health=$(E image inspect --format '{{if .Config.Healthcheck}}{{json .Config.Healthcheck.Test}}{{end}}' "$TAG" 2>/dev/null || true)
[ -n "$health" ] || health=$(E image inspect --format '{{if .HealthCheck}}{{json .HealthCheck.Test}}{{end}}' "$TAG" 2>/dev/null || true)
say "image: $meta healthcheck=$health"
meta_ok() {
    case "$meta" in
        '1883:1883|'*'"1883/tcp"'*'"8883/tcp"'*'|["/usr/bin/starling"]|["-c","/config/starling.json"]|SIGTERM') ;;
        *) return 1 ;;
    esac
    case "$health" in *'"--healthcheck"'*) return 0 ;; *) return 1 ;; esac
}
check "image: USER 1883:1883, EXPOSE 1883 8883, entrypoint, cmd, SIGTERM, HEALTHCHECK" meta_ok

# ------------------------------------------------------------------ helpers
# podman's default ulimits (1048576 files) need CAP_SYS_RESOURCE, which a
# container host may not grant: ask for what this shell has.
RUN_OPTS=()
if [ "$ENGINE" = podman ]; then
    hn=$(ulimit -Hn); if [ "$hn" = unlimited ] || [ "$hn" -gt 1048576 ]; then hn=1048576; fi
    hu=$(ulimit -Hu); if [ "$hu" = unlimited ] || [ "$hu" -gt 32768 ]; then hu=32768; fi
    RUN_OPTS=(--ulimit "nofile=$hn:$hn" --ulimit "nproc=$hu:$hu")
fi

free_port() {
    local p i
    for i in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        ss -Hltn "sport = :$p" 2>/dev/null | grep . >/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# start NAME PORT [run options...]: a detached container of the image, its
# 1883 reachable on 127.0.0.1:PORT.  In host mode the config's port is
# changed with a copy of the config (so that the healthcheck finds it too).
start() {
    local name=$1 port=$2; shift 2
    if [ "$NETMODE" = publish ]; then
        E run -d --name "$name" "${RUN_OPTS[@]}" -p "127.0.0.1:$port:1883" "$@" "$TAG" >"$WORK/run-$name.log" 2>&1
    else
        E run -d --name "$name" "${RUN_OPTS[@]}" --network host "$@" "$TAG" >"$WORK/run-$name.log" 2>&1
    fi || { sed 's/^/# /' "$WORK/run-$name.log"; return 1; }
}

# ready PORT NAME [mosquitto options...]: the broker answers a CONNECT (20 s).
ready() {
    local port=$1 name=$2 i; shift 2
    for i in $(seq 40); do
        if timeout 5 mosquitto_pub -h 127.0.0.1 -p "$port" -i "ready-$i" -t ready -m x "$@" 2>/dev/null; then
            return 0
        fi
        [ "$(E inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
        sleep 0.5
    done
    E logs "$name" 2>&1 | tail -n 20 | sed 's/^/# log: /'
    return 1
}

# In host mode the container gets a config dir of its own: the default
# config with the chosen port.
host_config() {
    local dir=$WORK/config-$1
    mkdir -p "$dir"
    sed "s/\"port\": 1883/\"port\": $2/" "$ROOT/docker/starling.json" >"$dir/starling.json"
    chown -R 1883:1883 "$dir"
    echo "$dir"
}

# ------------------------------------------------------------------ run
P1=$(free_port) || die "no free port"
E volume create "$VOL" >/dev/null
t=$SECONDS
extra=()
[ "$NETMODE" = host ] && extra=(-v "$(host_config a "$P1"):/config")
start "$C1" "$P1" -v "$VOL:/data" "${extra[@]}" || die "container starts"
if ! ready "$P1" "$C1"; then
    if [ "$NETMODE" = publish ]; then
        say "the published port does not answer here: falling back to --network host"
        E rm -f -v "$C1" >/dev/null 2>&1 || true
        NETMODE=host
        P1=$(free_port) || die "no free port"
        extra=(-v "$(host_config a "$P1"):/config")
        start "$C1" "$P1" -v "$VOL:/data" "${extra[@]}" || die "container starts"
        ready "$P1" "$C1" || die "broker answers on 127.0.0.1:$P1 (host network)"
    else
        die "broker answers on 127.0.0.1:$P1"
    fi
fi
ok "container starts; broker answers on 127.0.0.1:$P1 ($NETMODE)"
timed "start" $((SECONDS - t))
E logs "$C1" 2>&1 | sed -n '1,8s/^/# log: /p'
# grep reads it all (no -q): with pipefail, a grep that stops early would
# fail the pipeline by the SIGPIPE of the writer.
anon_warning() { E logs "$C1" 2>&1 | grep 'warning.*anonymous clients are allowed' >/dev/null; }
check "default config logs the anonymous-access warning" anon_warning

# A subscriber gets what a publisher sends through the port.
roundtrip() {
    local port=$1 topic=$2 out=$WORK/rt.$RANDOM i; shift 2
    timeout 15 mosquitto_sub -h 127.0.0.1 -p "$port" "$@" -t "$topic" -q 1 -C 1 -W 10 >"$out" 2>&1 &
    local sub=$!
    for i in $(seq 20); do
        sleep 0.5
        timeout 5 mosquitto_pub -h 127.0.0.1 -p "$port" "$@" -t "$topic" -q 1 -m "hello $i" >/dev/null 2>&1 || true
        [ -s "$out" ] && break
    done
    wait "$sub" || true
    grep -q '^hello ' "$out"
}
t=$SECONDS
check "mosquitto_pub -> mosquitto_sub through 127.0.0.1:$P1" roundtrip "$P1" t/rt
timed "pub/sub" $((SECONDS - t))

# The HEALTHCHECK passes (podman has no timer without systemd: run it).
healthy() {
    local i st
    if [ "$ENGINE" = podman ]; then
        for i in $(seq 15); do
            E healthcheck run "$1" >"$WORK/health.log" 2>&1 && return 0
            sleep 2
        done
        sed 's/^/# healthcheck: /' "$WORK/health.log"
        E inspect --format '{{json .State.Healthcheck}}' "$1" 2>/dev/null | tail -c 600 | sed 's/^/# /' || true
        return 1
    fi
    for i in $(seq 60); do   # interval 30 s: the first check runs after it
        st=$(E inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null || true)
        [ "$st" = healthy ] && return 0
        sleep 2
    done
    E inspect --format '{{json .State.Health}}' "$1" 2>/dev/null | tail -c 600 | sed 's/^/# /' || true
    return 1
}
t=$SECONDS
check "HEALTHCHECK reports healthy" healthy "$C1"
timed "healthcheck" $((SECONDS - t))

# The broker process is not root: the image has no shell, so look from here.
nonroot() {
    local pid uid
    pid=$(E inspect --format '{{.State.Pid}}' "$C1")
    uid=$(stat -c %u "/proc/$pid")
    say "broker pid $pid (host) runs as uid $uid"
    [ "$uid" = 1883 ]
}
check "broker runs as uid 1883, not root" nonroot

# ------------------------------------------------------------------ persistence
# sub_get PORT WAIT ARGS...: every message a subscriber gets in WAIT seconds.
sub_get() {
    local port=$1 wait=$2; shift 2
    timeout $((wait + 10)) mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -W "$wait" "$@" 2>/dev/null || true
}
# stop NAME: SIGTERM, and the broker exits 0 by itself within 10 s.
stop_clean() {
    E stop -t 10 "$1" >/dev/null 2>&1 || return 1
    local code
    code=$(E inspect --format '{{.State.ExitCode}}' "$1")
    say "$1 stopped, exit code $code"
    [ "$code" = 0 ]
}
persist_prepare() { # $1 = tag of the messages
    timeout 15 mosquitto_sub -h 127.0.0.1 -p "$P1" -c -i dockertest-sub -q 1 -t t/q -E >/dev/null 2>&1 &&
    timeout 15 mosquitto_pub -h 127.0.0.1 -p "$P1" -q 1 -t t/q -m "queued-$1" &&
    timeout 15 mosquitto_pub -h 127.0.0.1 -p "$P1" -q 1 -r -t t/r -m "retained-$1"
}
persist_verify() { # $1 = tag of the messages
    local q r
    q=$(sub_get "$P1" 5 -c -i dockertest-sub -t t/q)
    r=$(sub_get "$P1" 5 -C 1 -t t/r)
    say "after restart: queued=[$(echo $q)] retained=[$r]"
    case " $(echo $q) " in *" queued-$1 "*) ;; *) return 1 ;; esac
    [ "$r" = "retained-$1" ]
}

t=$SECONDS
check "persistent session, queued QoS 1 and retained message stored" persist_prepare 1
check "stop (SIGTERM) exits 0 within 10 s" stop_clean "$C1"
E start "$C1" >/dev/null 2>&1 && ready "$P1" "$C1" || die "container starts again"
check "queued QoS 1 and retained message survive stop + start" persist_verify 1
timed "stop + start" $((SECONDS - t))

t=$SECONDS
check "second queued and retained message stored" persist_prepare 2
stop_clean "$C1" || true
E rm -f -v "$C1" >/dev/null 2>&1
start "$C2" "$P1" -v "$VOL:/data" "${extra[@]}" && ready "$P1" "$C2" || die "new container on the same volume starts"
check "queued QoS 1 and retained message survive a new container on the same volume" persist_verify 2
E rm -f -v "$C2" >/dev/null 2>&1 || true
timed "new container, same volume" $((SECONDS - t))

# ------------------------------------------------------------------ SIGHUP
# A bind-mounted /config: password file, anonymous off.  The files must be
# the broker's (uid 1883): starling-passwd writes them 0600.
t=$SECONDS
P3=$(free_port) || die "no free port"
CONF=$WORK/config-auth
mkdir -p "$CONF"
cat >"$CONF/starling.json" <<EOF
{
    "listeners": [ { "bind": "0.0.0.0", "port": $([ "$NETMODE" = host ] && echo "$P3" || echo 1883) } ],
    "auth": { "allow_anonymous": false, "password_file": "passwd" },
    "log": { "level": "info", "destination": "stderr" },
    "persistence": { "mode": "off" }
}
EOF
chown -R 1883:1883 "$CONF"
# passwd_tool [-d DIR] ARGS...: the image's starling-passwd, DIR (default
# $CONF) as /config.
passwd_tool() {
    local dir=$CONF
    if [ "$1" = -d ]; then dir=$2; shift 2; fi
    E run --rm "${RUN_OPTS[@]}" --network none -v "$dir:/config" --entrypoint /usr/bin/starling-passwd "$TAG" "$@" >/dev/null 2>"$WORK/passwd.log" ||
        { sed 's/^/# /' "$WORK/passwd.log"; return 1; }
}
check "the image's starling-passwd -c -b makes a password file" passwd_tool -c -b /config/passwd alice alice-pw
start "$C3" "$P3" -v "$CONF:/config" && ready "$P3" "$C3" -u alice -P alice-pw || die "container with a password file starts"
bob() { timeout 5 mosquitto_pub -h 127.0.0.1 -p "$P3" -i bob -u bob -P bob-pw -t t/bob -m x 2>&1; }
refused() { ! bob >"$WORK/bob.log"; }
check "user bob (not in the file) refused" refused
sed 's/^/# bob: /' "$WORK/bob.log"
check "starling-passwd -b adds bob" passwd_tool -b /config/passwd bob bob-pw
hup_applies() {
    local i
    E kill -s HUP "$C3" >/dev/null || return 1
    for i in $(seq 20); do
        bob >/dev/null && return 0
        sleep 0.5
    done
    E logs "$C3" 2>&1 | tail -n 10 | sed 's/^/# log: /'
    return 1
}
check "after SIGHUP (kill -s HUP) bob is accepted" hup_applies
E logs "$C3" 2>&1 | grep -i -E 'reload|passw|SIGHUP' | tail -n 3 | sed 's/^/# log: /' || true
timed "SIGHUP reload" $((SECONDS - t))
E rm -f -v "$C3" >/dev/null 2>&1 || true

# ------------------------------------------------------------------ compose
# The file itself, as compose reads it: valid, and saying what the
# container below is given (only 8883 published, /config read-only, the
# health check's account).
compose_file() {
    local dc out
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        dc=(docker compose)
    else
        dc=(docker-compose)
    fi
    out=$(cd "$ROOT/docker" && STARLING_HEALTHCHECK_PASSWORD=x timeout 60 "${dc[@]}" -f compose.yaml config 2>&1) ||
        { printf '%s\n' "$out" | sed 's/^/# /'; return 1; }
    printf '%s\n' "$out" | grep -E 'target: 8883|8883:8883' >/dev/null &&
        printf '%s\n' "$out" | grep -E '/config:ro' >/dev/null &&
        printf '%s\n' "$out" | grep -E 'STARLING_HEALTHCHECK_USERNAME: healthcheck' >/dev/null &&
        ! printf '%s\n' "$out" | grep -E 'target: 1883|1883:1883' >/dev/null
}
check "compose: docker/compose.yaml parses (compose config): 8883 only, /config read-only, health account" compose_file
# docker/compose.yaml's deployment, made as its comments say: its config
# and ACL, certificates from the openssl lines, the password file from the
# image's starling-passwd, /config read-only, the health check's account in
# the environment, only the TLS port published.
t=$SECONDS
P4=$(free_port) || die "no free port"
CC=$WORK/compose
mkdir -p "$CC"
cp "$ROOT/docker/compose/starling.json" "$ROOT/docker/compose/acl" "$CC/"
if [ "$NETMODE" = host ]; then
    P5=$(free_port) || die "no free port"
    sed -i -e "s/\"port\": 8883/\"port\": $P4/" -e "s/\"port\": 1883/\"port\": $P5/" "$CC/starling.json"
fi
make_certs() (
    cd "$CC" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=Starling CA" -keyout ca.key -out ca.crt &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=mqtt.example.com" -keyout server.key -out server.csr &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
        -out server.crt -extfile <(printf 'subjectAltName=DNS:mqtt.example.com,DNS:localhost,IP:127.0.0.1')
) >"$WORK/openssl.log" 2>&1
make_certs || { sed 's/^/# /' "$WORK/openssl.log"; die "compose: certificates made with the openssl lines"; }
chown -R 1883:1883 "$CC"
compose_users() {
    passwd_tool -d "$CC" -c -b /config/passwd alice alice-pw &&
    passwd_tool -d "$CC" -b /config/passwd healthcheck health-pw
}
check "compose: password file for alice and healthcheck" compose_users
if [ "$NETMODE" = publish ]; then pub=(-p "127.0.0.1:$P4:8883"); else pub=(--network host); fi
if E run -d --name "$C3" "${RUN_OPTS[@]}" "${pub[@]}" -v "$CC:/config:ro" \
        -e STARLING_HEALTHCHECK_USERNAME=healthcheck -e STARLING_HEALTHCHECK_PASSWORD=health-pw \
        "$TAG" >"$WORK/run-compose.log" 2>&1 &&
   ready "$P4" "$C3" --cafile "$CC/ca.crt" -u alice -P alice-pw; then
    ok "compose: broker answers MQTT over TLS on 127.0.0.1:$P4 (alice, CA-verified)"
else
    sed 's/^/# /' "$WORK/run-compose.log"
    notok "compose: broker answers MQTT over TLS on 127.0.0.1:$P4 (alice, CA-verified)"
fi
check "compose: pub/sub over TLS" roundtrip "$P4" devices/x/rt --cafile "$CC/ca.crt" -u alice -P alice-pw
anon_refused() { ! timeout 5 mosquitto_pub -h 127.0.0.1 -p "$P4" --cafile "$CC/ca.crt" -t a -m x >/dev/null 2>&1; }
check "compose: anonymous client refused" anon_refused
check "compose: HEALTHCHECK healthy with STARLING_HEALTHCHECK_USERNAME/PASSWORD" healthy "$C3"
# ... and it does check: a wrong password makes it fail.
hc_wrong() {
    local out
    out=$(E exec -e STARLING_HEALTHCHECK_PASSWORD=wrong "$C3" /usr/bin/starling --healthcheck -c /config/starling.json 2>&1) && return 1
    say "with a wrong password: $out"
}
check "compose: the health check fails with a wrong password" hc_wrong
timed "compose" $((SECONDS - t))

# ------------------------------------------------------------------ cleanup
cleaned() {
    cleanup_keep_work
    inventory >"$WORK/after"
    if ! cmp -s "$WORK/before" "$WORK/after"; then
        comm -13 "$WORK/before" "$WORK/after" | sed 's/^/# left: /'
        return 1
    fi
}
check "cleanup leaves no container, volume or image behind (only the cached base)" cleaned

finish
