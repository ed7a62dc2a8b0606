#!/usr/bin/env bash
# Idempotent setup shared by ./run and ./test: Debian packages (when root or sudo), the venv,
# pinned Python packages, compiled message catalogues. Extra Debian packages: $EXTRA_APT.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in redis-server:redis-server ${EXTRA_APT:-}; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  # Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
  command -v "$cmd" >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$cmd" >/dev/null \
    || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "Missing Debian packages: ${missing[*]}. Install them (apt-get install ${missing[*]}) and run again." >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$wanted" > "$stamp"
fi
.venv/bin/python scripts/i18n.py compile
