#!/bin/sh
# Debian's chromium for the dashboard's browser test (Playwright drives /usr/bin/chromium; we never
# download a browser build). Idempotent and quiet: does nothing when chromium is already there.
set -eu
CHROMIUM="${BTCSTRESS_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and there is no apt-get; install chromium yourself" >&2
    exit 0  # the browser test then skips (or fails under CI) with the same advice
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "ensure-chromium: installing Debian's chromium (for the dashboard browser test)" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "ensure-chromium: chromium installed but $CHROMIUM is not there" >&2; exit 1; }
