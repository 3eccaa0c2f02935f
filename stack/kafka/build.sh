#!/usr/bin/env bash
# Resolves the jars of the local Kafka stack (broker + Connect workers) with Maven into
#   ${CW_CACHE_DIR:-$HOME/.cache/connect-warden}/kafka-$VERSION/{lib/*.jar,log4j2.xml,tools-log4j2.xml}
# builds the test connectors (plugins/*.java) into plugin.path directories under kafka-$VERSION/plugins/ (the
# versioned one twice, as versions 1.0.0 and 2.0.0; the marker-failing and the stalling one once), and prints
# that directory as the last line of stdout. Progress goes to stderr. Reruns are instant: the cache key hashes
# pom.xml, both log4j2 configs, this script and every plugins/*.java, so any change to them rebuilds.
# The version is kafka.version in pom.xml; override it with KAFKA_VERSION=3.9.1 bash stack/kafka/build.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CW_CACHE_DIR:-$HOME/.cache/connect-warden}"
version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml" | head -n1)}"
if [[ -z "$version" ]]; then
  echo "build.sh: no kafka.version in $here/pom.xml" >&2
  exit 1
fi
out="$cache/kafka-$version"
stamp_value="$(cat "$here/pom.xml" "$here/log4j2.xml" "$here/tools-log4j2.xml" "$here/build.sh" "$here"/plugins/*.java | sha256sum | cut -d' ' -f1)"

if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp_value" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache"
# One resolver at a time per version (tests may start stacks in parallel).
exec 9>"$cache/kafka-$version.lock"
flock 9
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp_value" ]]; then
  echo "$out"
  exit 0
fi

echo "build.sh: resolving Kafka $version jars with Maven into $out (first run downloads plugins and jars)" >&2
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/lib"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
# Maven's own output goes to stderr so that stdout carries only the result.
mvn -B -q -Dstyle.color=never -f "$here/pom.xml" \
  -Dmaven.repo.local="$cache/m2" \
  -Dkafka.version="$version" \
  -DoutputDirectory="$tmp/lib" \
  dependency:copy-dependencies >&2
# Both slf4j bindings of log4j2 were resolved; they share class names, so keep only the one matching the
# slf4j-api that Kafka brings (1.7.x for Kafka 3.x and 4.x so far).
if compgen -G "$tmp/lib/slf4j-api-1.*.jar" >/dev/null; then
  rm -f "$tmp"/lib/log4j-slf4j2-impl-*.jar
else
  rm -f "$tmp"/lib/log4j-slf4j-impl-*.jar
fi
cp "$here/log4j2.xml" "$tmp/log4j2.xml"
cp "$here/tools-log4j2.xml" "$tmp/tools-log4j2.xml"
# Test connector plugins, each in its own plugin.path directory and found through its ServiceLoader manifest
# (the workers use plugin.discovery=service_load). Each source file is compiled on its own, so a jar holds
# only its own connector.
# $1: source file, $2: directory and jar name, $3: connector class, $4: version (empty: none baked in),
# $5: source or sink (the ServiceLoader interface the manifest names).
plugin_jar() {
  local classes="$tmp/plugin-classes-$2" res="$tmp/plugin-res-$2"
  mkdir -p "$classes" "$res/META-INF/services" "$tmp/plugins/$2"
  javac -nowarn -d "$classes" -cp "$tmp/lib/*" "$here/plugins/$1" >&2
  if [[ -n "$4" ]]; then
    echo "version=$4" >"$res/connect-warden-plugin.properties"
  fi
  local service
  case "$5" in
    source) service=org.apache.kafka.connect.source.SourceConnector ;;
    sink) service=org.apache.kafka.connect.sink.SinkConnector ;;
    *) echo "build.sh: plugin_jar: unknown kind $5" >&2; exit 1 ;;
  esac
  echo "$3" >"$res/META-INF/services/$service"
  jar cf "$tmp/plugins/$2/$2.jar" -C "$classes" . -C "$res" .
  rm -rf "$classes" "$res"
}
# Two versions of one connector plugin (spec.version against a real worker).
for v in 1.0.0 2.0.0; do
  plugin_jar VersionedSourceConnector.java "versioned-source-$v" dev.connectwarden.stack.VersionedSourceConnector "$v" source
done
# A connector whose tasks fail while a marker file exists (the restart-storm benchmark).
plugin_jar MarkerFailSourceConnector.java marker-fail-source dev.connectwarden.stack.MarkerFailSourceConnector "" source
# A sink whose tasks stay RUNNING but consume nothing while a marker file exists (lag measurement).
plugin_jar StallingSinkConnector.java stalling-sink dev.connectwarden.stack.StallingSinkConnector "" sink
n=$(find "$tmp/lib" -name '*.jar' | wc -l)
if ! compgen -G "$tmp/lib/kafka_2.13-*.jar" >/dev/null || ! compgen -G "$tmp/lib/connect-runtime-*.jar" >/dev/null; then
  echo "build.sh: resolution produced no kafka/connect-runtime jar in $tmp/lib" >&2
  exit 1
fi
echo "$stamp_value" >"$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build.sh: $n jars for Kafka $version in $(( $(date +%s) - start ))s" >&2
echo "$out"
