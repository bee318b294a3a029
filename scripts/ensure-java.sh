#!/usr/bin/env bash
# Java for the Spark backend (pyspark 4.0 runs on Java 17 or 21). When no suitable `java` is found,
# install Debian's default-jre-headless (17 on Debian 12, 21 on Debian 13). Idempotent and quiet:
# it prints one line only when it installs something or cannot. It never fails the build: without
# Java the Spark parity tests skip and say why.
set -u

java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java 2>/dev/null)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    major="$(java_major "$candidate")"
    if [ -n "$major" ] && [ "$major" -ge 17 ] 2>/dev/null; then
      exit 0
    fi
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-java: no Java 17+ and no apt-get here; install a JRE 17+ (or set JAVA_HOME) for the Spark backend" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "ensure-java: no Java 17+ and not root; run: apt-get install default-jre-headless" >&2
    exit 0
  fi
fi
echo "ensure-java: installing default-jre-headless for the Spark backend" >&2
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null 2>&1 \
   && $SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-java: could not install default-jre-headless; the Spark parity tests will skip" >&2
exit 0
