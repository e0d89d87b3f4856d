#!/usr/bin/env bash
# Builds the deployment package: a zip of the project minus what .funcignore lists, the same
# selection `func azure functionapp publish` makes. deploy.sh publishes it when Core Tools is
# missing; tests/test_deployed_package.py builds it with this script and lists it.
# Usage: infra/package.sh OUTPUT.zip
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
