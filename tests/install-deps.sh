#!/bin/sh
# Installs the Debian packages listed in docker/build-packages.txt (building) and
# docker/test-packages.txt (testing) that are not yet installed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pkgs=$(cat "$here/docker/build-packages.txt" "$here/docker/test-packages.txt" | grep -v '^#' | tr '\n' ' ')
missing=""
for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# openjdk may already be present from another source; keytool and javac are what we need.
if command -v javac >/dev/null 2>&1 && command -v keytool >/dev/null 2>&1; then
        missing=$(echo "$missing" | sed 's/ openjdk-17-jdk-headless//')
fi
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
