#!/bin/sh
# Make sure the Debian packages Starling needs are installed.
#   tools/deps.sh build   - what building and running needs
#   tools/deps.sh test    - that, plus what the tests need
#   tools/deps.sh bench   - that, plus Mosquitto and gnuplot for make bench
# As root, missing packages are installed (apt-get update first) and named.
# Otherwise the exact apt-get line is printed and the script fails.
set -eu

pkgs="gcc libc6-dev make libmbedtls-dev libcjson-dev libsqlite3-dev libargon2-dev"
case "${1:-build}" in
test) pkgs="$pkgs libcmocka-dev mosquitto-clients mosquitto python3-paho-mqtt python3-cryptography clang openssl" ;;
bench) pkgs="$pkgs mosquitto gnuplot-nox libssl-dev openssl" ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "Starling needs these Debian packages:$missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "Installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
