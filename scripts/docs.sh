#!/usr/bin/env bash
# Builds RecurrentKit's API documentation with DocC (swift-docc-plugin 1.5.0) into .build/docs,
# laid out for static hosting: `python3 -m http.server -d .build/docs` and open
# http://localhost:8000/documentation/recurrentkit/. Fails on any DocC warning and on a public
# symbol of RecurrentKit declared without a doc comment (listed with its file and line).
# Usage: scripts/docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

out=.build/docs
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
swift package --allow-writing-to-directory "$out" generate-documentation --target RecurrentKit \
    --output-path "$out" --transform-for-static-hosting 2>&1 | tee "$log"

status=0
if grep -q "warning:" "$log"; then
    echo "docs: DocC reported $(grep -c "warning:" "$log") warnings (above)" >&2
    status=1
fi

# Public symbols written in the sources without a `///` comment (synthesized members have no
# source location; members that implement a documented protocol requirement inherit its comment).
graph="$(find .build -path '*extracted-symbols*' -name RecurrentKit.symbols.json | head -n 1)"
if ! command -v python3 >/dev/null; then
    echo "docs: python3 not found: skipping the check that every public symbol has a doc comment"
elif [ -z "$graph" ]; then
    echo "docs: no RecurrentKit symbol graph under .build" >&2
    status=1
else
    python3 - "$graph" <<'PY' || status=1
import json, sys
symbols = json.load(open(sys.argv[1]))["symbols"]
missing = [s for s in symbols if "location" in s and "docComment" not in s]
for s in sorted(missing, key=lambda s: (s["location"]["uri"], s["location"]["position"]["line"])):
    path = s["location"]["uri"].split("/Sources/", 1)[-1]
    print(f"docs: no doc comment: {'.'.join(s['pathComponents'])} ({path}:{s['location']['position']['line'] + 1})")
print(f"docs: {len(symbols) - len(missing)} of {len(symbols)} public symbols documented")
sys.exit(1 if missing else 0)
PY
fi
[ "$status" -eq 0 ] && echo "docs: wrote $out (no warnings, every public symbol documented)"
exit "$status"
