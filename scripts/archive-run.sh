#!/bin/sh
# The entry script of the archive scripts/package writes, where it is run.sh. It needs only a
# POSIX shell (busybox sh will do): no Swift toolchain, and none of the machine's libraries.
# Usage below (or --help).
set -u

usage() {
	cat <<'EOF'
usage: run.sh [--filter SELECTORS] [--out DIR]
       run.sh --help

Runs pidns-conformance's conformance cases against the running kernel, as a kselftest does:
KTAP on stdout, the suite's own output in DIR/swift-testing.log, and the exit status
kselftest's runners read. The test bundle and conformance-report run on the libraries and the
ELF interpreter in the archive's lib/, so any glibc distribution (or a busybox initramfs) runs
them; nothing is installed.

Writes DIR/: results.jsonl (the result log), results.ktap, results.kcidb.json (KernelCI's
KCIDB I/O schema, for a CI system to submit), results.junit.xml, results.json, summary.md and
swift-testing.log.

  --filter SELECTORS  runs only the selected cases: case ids (`clone3.size.63`, an area such as
                      `set_tid.order`, or `set_tid`) or `tag:NAME`, comma- or space-separated,
                      as in the suite's scripts/conformance. Every report names the selection.
  --out DIR           where the reports go (created if missing). Default: results/ beside this
                      script. A run empties the reports of an earlier run in DIR first.
  -h, --help          prints this and exits 0.

Environment: PIDNS_TIMEOUT_SCALE=N multiplies every sandbox's 10 s timeout, for slow or
emulated machines.

Exit status (kselftest's):
  0   every case ran to a verdict or skipped, and none failed
  1   a case FAILed, or is BROKEN (its own setup failed: KTAP `# error`), or the run did not
      complete (results missing, a fixture table that did not load, a crash)
  4   skip: nothing could run here (user namespaces disabled, ...); the KTAP plan says why
  64  bad usage: an unknown option, a selector that is not an id or tag:NAME or selects no
      case, a PIDNS_TIMEOUT_SCALE that is not a positive number up to 1000
  73  DIR cannot be created or written
EOF
}

bad_usage() {
	echo "run.sh: $1 (see run.sh --help)" >&2
	exit 64
}

here=$(cd "$(dirname "$0")" && pwd)
# As the suite takes it: a bad one would stop the suite at its first sandbox (a crash).
if [ -n "${PIDNS_TIMEOUT_SCALE+set}" ] && ! awk -v s="$PIDNS_TIMEOUT_SCALE" \
	'BEGIN { exit !(s ~ /^([0-9]+[.]?[0-9]*|[.][0-9]+)$/ && s + 0 > 0 && s + 0 <= 1000) }'; then
	bad_usage "PIDNS_TIMEOUT_SCALE=$PIDNS_TIMEOUT_SCALE: a positive number up to 1000 is needed"
fi
filter=
out=
while [ $# -gt 0 ]; do
	case $1 in
	--filter | --out)
		[ $# -ge 2 ] && [ -n "$2" ] || bad_usage "$1 needs a value"
		if [ "$1" = --out ]; then out=$2; else filter="${filter:+$filter,}$2"; fi
		shift
		;;
	--filter=*)
		[ -n "${1#*=}" ] || bad_usage "--filter needs a value"
		filter="${filter:+$filter,}${1#*=}"
		;;
	--out=*)
		[ -n "${1#*=}" ] || bad_usage "--out needs a value"
		out=${1#*=}
		;;
	-h | --help) usage; exit 0 ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done

lib=$here/lib
interpreter=
for f in "$lib"/ld-linux*.so*; do [ -f "$f" ] && interpreter=$f; done
if [ -z "$interpreter" ]; then
	echo "run.sh: no ELF interpreter in $lib: the archive is incomplete" >&2
	exit 1
fi
# Every program runs through the archive's own interpreter on the archive's own libraries.
own() { "$interpreter" --library-path "$lib" "$@"; }
report() { own "$here/bin/conformance-report" "$@"; }

cases=
if [ -n "$filter" ]; then
	cases=$(echo "$filter" | tr ',' ' ')
	rc=0
	why=$(report list --fixtures "$here/Fixtures" --filter "$filter" 2>&1 >/dev/null) || rc=$?
	case $rc in
	0) ;;
	64) bad_usage "$(echo "$why" | tail -1 | sed 's/^conformance-report: //')" ;;
	*) echo "$why" >&2; exit 1 ;;
	esac
fi

[ -n "$out" ] || out=$here/results
mkdir -p "$out" 2>/dev/null && [ -d "$out" ] && [ -w "$out" ] || {
	echo "run.sh: --out: $out cannot be created or written" >&2
	exit 73
}
out=$(cd "$out" && pwd)
for f in results.jsonl results.ktap results.kcidb.json results.junit.xml results.json \
	summary.md swift-testing.log; do
	rm -f "$out/$f"
done

revision=$(cat "$here/REVISION" 2>/dev/null || echo unknown)
echo "run.sh: pidns-conformance $revision on $(uname -r); reports in $out" >&2
rc=0
# The test process selects the cases itself (PIDNS_CASES) and records the selection, so every
# report names it and judges completeness against the selected cases only.
if [ -n "$cases" ]; then export PIDNS_CASES="$cases"; fi
NO_COLOR=1 PIDNS_RESULT_LOG=$out/results.jsonl PIDNS_FIXTURES=$here/Fixtures \
	PIDNS_REVISION=$revision \
	own "$here/bin/pidns-conformancePackageTests.xctest" --testing-library swift-testing \
	--filter '^ConformanceTests\.' >"$out/swift-testing.log" 2>&1 </dev/null || rc=$?

if ! [ -s "$out/results.jsonl" ]; then
	echo "KTAP version 1"
	echo "1..1"
	echo "# the test process wrote no result (exit $rc): see $out/swift-testing.log"
	tail -5 "$out/swift-testing.log" | sed 's/^/# /'
	echo "not ok 1 pidns-conformance # error the suite did not run"
	exit 1
fi
rrc=0
report render --log "$out/results.jsonl" --out "$out" >"$out/render.txt" 2>&1 || rrc=$?
if ! [ -f "$out/results.ktap" ]; then
	echo "KTAP version 1"
	echo "1..1"
	sed 's/^/# /' "$out/render.txt"
	echo "not ok 1 pidns-conformance # error conformance-report render exited $rrc"
	exit 1
fi
cat "$out/results.ktap"
sed 's/^/# /' "$out/render.txt"
rm -f "$out/render.txt"
if [ "$rc" -gt 1 ]; then
	echo "# the test process exited with $rc: see $out/swift-testing.log"
	exit 1
fi
case $rrc in
0) exit 0 ;;
2)
	# Nothing could run (a skip), unless a case is BROKEN or results are missing: those are
	# KTAP errors, which kselftest counts as failures.
	if grep -q ' # error ' "$out/results.ktap"; then exit 1; fi
	exit 4
	;;
*) exit 1 ;;
esac
