#!/usr/bin/env bash
# Builds the deployment package: a zip of the project minus what .funcignore lists, the same
# selection `func azure functionapp publish` makes, plus the deployed modules' bytecode for the
# runtime's Python version. The app runs from this package, read-only: without bytecode in it, every
# cold start compiles the bridge's sources again (about 20 ms, docs/performance.md). The bytecode is
# unchecked-hash: the package never changes under it. deploy.sh publishes it;
# tests/test_deployed_package.py builds it with this script and lists it.
# Usage: infra/package.sh OUTPUT.zip   (PYTHON: the interpreter to compile with, default python3)
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUTPUT.zip" >&2; exit 2; }
output="$(cd "$(dirname "$1")" && pwd)/${1##*/}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$repo_root/.funcignore" ]] || { echo "no .funcignore in $repo_root to say what to leave out of the package" >&2; exit 1; }

# zip -x patterns for every name in .funcignore (gitignore-style, at any depth).
excludes=()
while read -r pattern || [[ -n "$pattern" ]]; do
  [[ -z "$pattern" || "$pattern" == \#* ]] && continue
  pattern="${pattern#/}"
  pattern="${pattern%/}"
  excludes+=("$pattern" "$pattern/*" "*/$pattern" "*/$pattern/*")
done <"$repo_root/.funcignore"

rm -f "$output"
(cd "$repo_root" && zip -qr "$output" . -x ${excludes[@]+"${excludes[@]}"})

# The runtime's version is infra's pythonVersion; bytecode of any other version would never be read.
runtime_version="$(sed -n "s/^param pythonVersion string = '\([0-9.]*\)'.*/\1/p" "$repo_root/infra/main.bicep" 2>/dev/null || true)"
python="${PYTHON:-python3}"
local_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ -z "$runtime_version" || "$local_version" != "$runtime_version" ]]; then
  echo "package.sh: no bytecode in the package: $python is Python ${local_version:-missing}, the app runs ${runtime_version:-an unknown version} (set PYTHON to a Python $runtime_version); each cold start compiles the sources" >&2
  exit 0
fi
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
(cd "$staging" && unzip -q "$output" && "$python" -m compileall -q -d . --invalidation-mode unchecked-hash function_app.py create_meeting_fn shared >/dev/null)
(cd "$staging" && zip -qr "$output" . -i '__pycache__/*' '*/__pycache__/*')
