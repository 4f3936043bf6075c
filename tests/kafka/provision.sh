#!/bin/sh
# Usage: tests/kafka/provision.sh VERSION
# Resolves Apache Kafka VERSION (broker, tools, log4j2) from Maven Central into
# $KPA_KAFKA_CACHE/VERSION/lib (default ~/.cache/kpa/kafka) and prints that folder. A folder
# completed once is reused; a failed download exits non-zero with Maven's error: never a skip.
set -eu
version=${1:?usage: provision.sh VERSION}
case $version in
        4.[0-9]*.[0-9]*) ;;
        *) echo "provision.sh: VERSION \"$version\" is not a Kafka 4.x release (expected 4.N.N)" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
cache=${KPA_KAFKA_CACHE:-${HOME:-/root}/.cache/kpa/kafka}
dest="$cache/$version"
if [ -f "$dest/complete" ] && [ -f "$dest/lib/kafka_2.13-$version.jar" ]; then
        echo "$dest/lib"
        exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "provision.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
if ! mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" \
        dependency:copy-dependencies -DoutputDirectory="$dest.tmp/lib" >"$dest.tmp/mvn.log" 2>&1; then
        cat "$dest.tmp/mvn.log" >&2
        echo "provision.sh: Maven could not resolve Apache Kafka $version (log above)" >&2
        exit 1
fi
[ -f "$dest.tmp/lib/kafka_2.13-$version.jar" ] || {
        echo "provision.sh: kafka_2.13-$version.jar missing after Maven ran" >&2; exit 1; }
touch "$dest.tmp/complete"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$dest/lib"
