#!/usr/bin/env bash
# tools/wine/run.sh [PACKAGE...]: runs the Windows build of herald's tests
# under Wine, on Linux, by hand (not part of .ci/run: Wine is not Windows,
# and a prefix takes a while to make). The packages default to those whose
# behaviour depends most on the system: files renamed, locked or held open
# (journal/bolt, journal/spool, ingress/twitch/auth), the WebSocket write
# path (egress/socketio/internal/eio).
#
# Needs: wine64 and a MinGW compiler (apt-get install wine64
# gcc-mingw-w64-x86-64), Go and jq. Exits 1 when a test fails for a reason other
# than Wine's own: Wine 8 cannot remove a test's temporary directory
# ("TempDir RemoveAll cleanup: … Invalid function."), which the script
# ignores. herald itself runs under Wine as it is (see README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/../.."
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[[ -x $wine ]] || { echo "tools/wine: wine64 not found (apt-get install wine64)" >&2; exit 2; }
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "tools/wine: x86_64-w64-mingw32-gcc not found (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 2; }
command -v jq >/dev/null || { echo "tools/wine: jq not found (apt-get install jq)" >&2; exit 2; }
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./journal/bolt ./journal/spool ./ingress/twitch/auth ./egress/socketio/internal/eio)

work=$(mktemp -d)
trap 'WINEPREFIX=$work/prefix wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
export WINEPREFIX=$work/prefix WINEDEBUG=-all
echo "tools/wine: making a Wine prefix in $WINEPREFIX…"
"$wine" wineboot -i >/dev/null 2>&1
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" tools/wine/bcryptprimitives.c

failed=0
for pkg in "${pkgs[@]}"; do
	name=$(basename "$pkg")
	exe=$work/$name.test.exe
	GOOS=windows GOARCH=amd64 go test -c -o "$exe" "$pkg"
	"$wine" "$exe" -test.v=test2json -test.count=1 2>&1 | go tool test2json -t >"$work/$name.json" || true
	# Per failed test: its output without Wine's temporary-directory line
	# and the run/pass/fail markers. Wine fails every test that uses
	# t.TempDir with that line, so only a failed test without it is
	# certainly a failure; the others are printed for a person to read.
	report=$(jq -rs '
		(map(select(.Action == "fail" and .Test != null) | .Test) | unique) as $failed
		| (map(select(.Action == "output" and .Test != null and (.Output | test("TempDir RemoveAll cleanup"))) | .Test) | unique) as $wine
		| $failed[] as $t
		| ($wine | index($t) != null) as $masked
		| [ .[] | select(.Action == "output" and .Test == $t) | .Output
		    | select(test("^(=== |--- |\\s*--- )|TempDir RemoveAll cleanup") | not) ] as $out
		| select(($failed | map(select(startswith($t + "/"))) | length) == 0)
		| select(($masked and ($out | length) == 0) | not)
		| (if $masked then "wine? " else "FAIL  " end) + $t + "\n" + ($out | join(""))' "$work/$name.json")
	passed=$(jq -rs 'map(select(.Action == "pass" and .Test != null)) | length' "$work/$name.json")
	if grep -q '^FAIL  ' <<<"$report" || ! jq -es 'map(select(.Action == "pass" or .Action == "fail") | select(.Test == null)) | length > 0' "$work/$name.json" >/dev/null; then
		echo "FAIL $pkg"
		failed=1
	else
		echo "ok   $pkg ($passed passed; any test listed failed with Wine's temporary-directory error too: read what else it said)"
	fi
	[[ -n $report ]] && sed 's/^/    /' <<<"$report"
done
exit $failed
