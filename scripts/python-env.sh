#!/usr/bin/env bash
# Creates .venv with the packages in examples/python/requirements.txt, once: a stamp of the requirements'
# hash skips the install when nothing changed. Called by `npm test`, so a fresh clone needs no manual step.
set -euo pipefail
cd "$(dirname "$0")/.."
req=examples/python/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "cancelbench: $python not found; install Python 3.9+ (or set PYTHON=/path/to/python3) for the Python tests" >&2
  exit 1
fi
echo "cancelbench: creating .venv for the Python tests (one-time, ~30 s)..." >&2
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req" >&2
echo "$want" > "$stamp"
