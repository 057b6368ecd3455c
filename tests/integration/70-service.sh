# 70-service - scripts/fedra-node.service is a valid, hardened systemd unit:
# `systemd-analyze verify` accepts it with no warning (offline: no running
# systemd is needed), and `systemd-analyze security --offline` rates its
# exposure low.  ExecStart is pointed at the binary under test so that verify
# can check that the program exists and is executable.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

unit=$ROOT/scripts/fedra-node.service
if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze missing (scripts/install-deps installs systemd)"
    done_checks
fi
sed "s|^ExecStart=/usr/local/bin/fedra-node |ExecStart=$FEDRA_BIN/fedra-node |" "$unit" >fedra-node.service
expect_grep "^ExecStart=$FEDRA_BIN/fedra-node serve --config /etc/fedra/node.conf\$" \
    fedra-node.service "ExecStart points at the binary under test"
expect_status 0 "systemd-analyze verify accepts the unit" systemd-analyze verify "$WORK/fedra-node.service"
if [ -s "$WORK/last.err" ]; then fail "systemd-analyze verify warned:"; sed 's/^/       | /' "$WORK/last.err"
else ok "systemd-analyze verify: no warning"; fi

# A typo in a key is what verify exists to catch: the check itself must see it.
sed 's/^ProtectSystem=strict/ProtectSistem=strict/' fedra-node.service >typo.service
systemd-analyze verify "$WORK/typo.service" >/dev/null 2>typo.err
expect_grep "Unknown key 'ProtectSistem'" typo.err "verify reports a misspelt key (the check has teeth)"
# ... and a missing program.
sed "s|^ExecStart=[^ ]*|ExecStart=$WORK/no-such-fedra-node|" fedra-node.service >noexec.service
expect_status 1 "verify refuses a unit whose program does not exist" \
    systemd-analyze verify "$WORK/noexec.service"

# The hardening the service relies on is really in the unit.
for kv in 'User=fedra' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
          'PrivateDevices=yes' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
          'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
          'MemoryDenyWriteExecute=yes' 'ReadWritePaths=/var/lib/fedra' \
          'ExecReload=/bin/kill -HUP [$]MAINPID' 'Restart=on-failure'; do
    expect_grep "^$kv\$" fedra-node.service "unit sets $kv"
done

# systemd's own score: 0 (locked down) ... 10 (exposed); "OK" is below 5.
# Our threshold is 2.0; the unit scored 1.4 with systemd 252.
if systemd-analyze security --offline=yes "$WORK/fedra-node.service" >security.out 2>&1; then
    score=$(sed -n 's/.*Overall exposure level for fedra-node.service: \([0-9.]*\).*/\1/p' security.out)
    if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
        ok "systemd-analyze security: exposure $score (<= 2.0)"
    else
        fail "systemd-analyze security: exposure '$score' (> 2.0)"; tail -n 5 security.out
    fi
else
    fail "systemd-analyze security --offline failed"; tail -n 5 security.out
fi
done_checks
