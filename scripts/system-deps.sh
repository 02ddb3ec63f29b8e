#!/usr/bin/env bash
# System packages the tests need, installed once: Debian's Chromium (the HTML report's browser test drives
# it through playwright-core, which downloads no browser of its own; it also brings Liberation Sans, the font
# the chart PNGs are drawn with). Called by `npm test`, so a fresh Debian machine needs no manual step.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "cancelbench: installing chromium for the HTML report test (one-time)..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "cancelbench: chromium not found: install it (Debian/Ubuntu: sudo apt-get install chromium) for the HTML report test" >&2
exit 1
