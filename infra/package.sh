#!/usr/bin/env bash
# Builds the deployment package: function_app.py, host.json, requirements.txt and the Python modules of
# create_meeting_fn/ and shared/, named one by one (nothing else in the checkout, tracked or not, can
# ship), plus those modules' bytecode for the runtime's Python version. The app runs from this package,
# read-only: without bytecode in it, every cold start compiles the bridge's sources again (about 20 ms,
# docs/performance.md). The bytecode is unchecked-hash: the package never changes under it.
# deploy.sh publishes it; tests/test_deployed_package.py builds it with this script and lists it.
# Usage: infra/package.sh OUTPUT.zip   (PYTHON: the interpreter to compile with, default python3)
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: infra/package.sh OUTPUT.zip

Builds the deployment package: function_app.py, host.json, requirements.txt and the
Python modules of create_meeting_fn/ and shared/ (nothing else in the checkout), plus
their bytecode when the interpreter is the runtime's version (infra/main.bicepparam).
infra/deploy.sh runs it; run it yourself to see what would ship (unzip -l OUTPUT.zip).

Environment:
  PYTHON  the interpreter to compile the bytecode with (default: python3)

Examples:
  infra/package.sh /tmp/bookingbridge.zip
  PYTHON=python3.11 infra/package.sh /tmp/bookingbridge.zip   # bytecode for the 3.11 runtime
EOF
}

case "${1-}" in
  -h | --help) usage; exit 0 ;;
esac
[[ $# -eq 1 && "$1" != -* ]] || { usage >&2; exit 2; }
# Checked before anything is built: the output is a file to write, in a folder that exists.
if [[ -z "$1" || "$1" == */ || "$1" == . || "$1" == .. || "$1" == */. || "$1" == */.. || -d "$1" ]]; then
  printf 'package.sh: OUTPUT.zip must name a file, not a folder: %q\n' "$1" >&2
  usage >&2
  exit 2
fi
[[ -d "$(dirname -- "$1")" ]] || {
  printf 'package.sh: the folder of OUTPUT.zip does not exist: %q\n' "$(dirname -- "$1")" >&2
  exit 2
}
output="$(cd "$(dirname -- "$1")" && pwd)/${1##*/}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
(
  cd "$repo_root"
  for file in function_app.py host.json requirements.txt; do
    [[ -f "$file" ]] || { echo "package.sh: $repo_root has no $file" >&2; exit 1; }
    cp "$file" "$staging/"
  done
  for folder in create_meeting_fn shared; do
    [[ -d "$folder" ]] || { echo "package.sh: $repo_root has no $folder/" >&2; exit 1; }
  done
  # A symlink would be left out (find does not follow it) or point outside the package: refused, by name.
  linked="$(find create_meeting_fn shared -type l -not -name '.#*' -print -quit)"
  [[ -z "$linked" ]] || { echo "package.sh: $linked is a symlink: the package takes files only" >&2; exit 1; }
  # Regular files only: an editor's lock file (.#booking.py, a dangling symlink) is not a module.
  find create_meeting_fn shared -type f -name '*.py' -not -name '.#*' -not -path '*/__pycache__/*' -print0 |
    while IFS= read -r -d '' module; do
      mkdir -p "$staging/$(dirname "$module")"
      cp "$module" "$staging/$module"
    done
)

# The runtime's version: deploy.sh deploys main.bicep with main.bicepparam, whose pythonVersion wins
# over the template's default. Bytecode of any other version would never be read.
runtime_version="$(sed -n "s/^param pythonVersion = '\([0-9.]*\)'.*/\1/p" "$repo_root/infra/main.bicepparam" 2>/dev/null || true)"
[[ -n "$runtime_version" ]] ||
  runtime_version="$(sed -n "s/^param pythonVersion string = '\([0-9.]*\)'.*/\1/p" "$repo_root/infra/main.bicep" 2>/dev/null || true)"
# The interpreter by its absolute path: it runs again inside the staging directory.
python="$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)' 2>/dev/null || true)"
local_version=""
if [[ -n "$python" ]]; then
  local_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
fi
if [[ -n "$runtime_version" && "$local_version" == "$runtime_version" ]]; then
  # Plain __pycache__/*.cpython-XY.pyc whatever the deployer's environment says (a pycache prefix, -O).
  (cd "$staging" && env -u PYTHONPYCACHEPREFIX -u PYTHONOPTIMIZE "$python" -m compileall -q -d . \
    --invalidation-mode unchecked-hash function_app.py create_meeting_fn shared >/dev/null)
else
  echo "package.sh: no bytecode in the package: ${PYTHON:-python3} is Python ${local_version:-missing}, the app runs ${runtime_version:-an unknown version} (set PYTHON to a Python $runtime_version); each cold start compiles the sources" >&2
fi

rm -f "$output"
(cd "$staging" && zip -qr "$output" .)
