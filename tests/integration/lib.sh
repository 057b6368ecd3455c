# lib.sh - shared helpers for the integration scenarios (sourced, not run).
#
# Every scenario runs with:
#   FEDRA_BIN  directory holding fedra, fedra-node, fedra-cert, fedra-gendata
#   WORK       a fresh empty directory of its own
#   ROOT       the repository root
# It exits 0 when every check passed.  Each check prints one line.
#
# FEDRA_TEST_HUB=1 (tests/integration/run's hub pass): every federation the
# scenario brings up with scripts/federation runs with its nodes behind a hub
# (FEDRA_FEDERATION_HUB=1 is scripts/federation's --hub); `hub_pass` is then 1.
set -u
PATH="$FEDRA_BIN:$PATH"
export PATH
hub_pass=0
if [ "${FEDRA_TEST_HUB:-0}" = 1 ]; then
    hub_pass=1
    export FEDRA_FEDERATION_HUB=1
    echo "  (hub pass: every node behind a hub)"
fi
_checks=0
_failed=0

# ok NAME: record a passed check.
ok() { _checks=$((_checks + 1)); printf '  ok   %s\n' "$*"; }
# fail NAME: record a failed check (the scenario goes on; it exits 1 at the end).
fail() { _checks=$((_checks + 1)); _failed=$((_failed + 1)); printf '  FAIL %s\n' "$*"; }
# check NAME CMD...: run CMD; pass if it exits 0.
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
# expect_status N NAME CMD...: pass if CMD exits with status N; output in $WORK/last.out/.err
expect_status() {
    want=$1; name=$2; shift 2
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"; got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else
        fail "$name (exit $got, wanted $want)"; sed 's/^/       | /' "$WORK/last.err" | head -20; fi
}
# expect_grep PATTERN FILE NAME: pass if FILE matches the extended regex PATTERN.
expect_grep() {
    if grep -Eq -- "$1" "$2"; then ok "$3"; else fail "$3 (no /$1/ in $2)"; sed 's/^/       | /' "$2" | head -20; fi
}
# expect_help PROG COMMAND LIST: COMMAND's help (words split: "audit verify") exits 0
# with its usage and an example, 'PROG help COMMAND' prints the same, and LIST
# (a file holding 'PROG --help') names COMMAND.
expect_help() {
    local p=$1 c=$2 list=$3
    expect_status 0 "$p $c --help exits 0" $p $c --help
    expect_grep "^usage: $p $c " "$WORK/last.out" "'$c --help' gives its usage"
    expect_grep "^  $p $c " "$WORK/last.out" "'$c --help' gives an example"
    cp "$WORK/last.out" "$WORK/help1.txt"
    expect_status 0 "$p help $c exits 0" $p help $c
    check "'$p help $c' prints what '$p $c --help' does" cmp -s "$WORK/help1.txt" "$WORK/last.out"
    expect_grep "^  $c +[a-z]" "$list" "'$p --help' names '$c'"
}
# done_checks: print the tally and exit with the scenario's status.  Node logs
# are scanned for sanitizer reports: a daemon's memory error fails the scenario
# even when every answer looked right.
done_checks() {
    san=$(grep -rlE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK" \
          --include='*.log' 2>/dev/null || true)
    if [ -n "$san" ]; then
        fail "sanitizer reports in: $san"
        grep -hE -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' $san | head -40
    fi
    echo "  $_checks checks, $_failed failed"
    [ "$_failed" = 0 ]
    exit $?
}

# last_release_route HUBCONF: the route id of the hub's last pooled release (its relay log)
last_release_route() {
    fedra-hub log export --config "$1" | grep '"kind":"release"' | tail -n 1 |
        sed 's/.*"route_id":"\([0-9a-f]*\)".*/\1/'
}
