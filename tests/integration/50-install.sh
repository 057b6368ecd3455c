# 50-install - make install honours PREFIX and DESTDIR, and what it installs runs.
. "$ROOT/tests/integration/lib.sh"
dest="$WORK/stage"
check "make install PREFIX=/opt/fedra DESTDIR=..." \
    make -s -C "$ROOT" install BUILD="$FEDRA_BIN" PREFIX=/opt/fedra DESTDIR="$dest"
for p in fedra fedra-node fedra-cert; do
    [ -x "$dest/opt/fedra/bin/$p" ] && ok "$p installed under DESTDIR/PREFIX/bin" || fail "$p missing"
done
[ -x "$dest/opt/fedra/share/fedra/federation" ] && ok "scripts/federation installed" || fail "federation script missing"
[ -f "$dest/opt/fedra/share/fedra/fedra-node.service" ] && ok "the systemd unit installed" || fail "unit missing"
[ -f "$dest/opt/fedra/share/doc/fedra/service.md" ] && [ -f "$dest/opt/fedra/share/doc/fedra/node-config.md" ] \
    && ok "service and config docs installed" || fail "docs missing"
[ ! -e /opt/fedra/bin/fedra ] || [ -n "${FEDRA_ALLOW_SYSTEM_INSTALL:-}" ] \
    && ok "nothing written outside DESTDIR" || fail "/opt/fedra was written"
expect_status 0 "installed fedra-cert runs" "$dest/opt/fedra/bin/fedra-cert" --help
expect_status 0 "installed fedra runs" "$dest/opt/fedra/bin/fedra" --help
# The hub: its program, its systemd unit and its config doc.
[ -x "$dest/opt/fedra/bin/fedra-hub" ] && ok "fedra-hub installed under DESTDIR/PREFIX/bin" \
    || fail "fedra-hub missing"
[ -f "$dest/opt/fedra/share/fedra/fedra-hub.service" ] && ok "the hub's systemd unit installed" \
    || fail "hub unit missing"
[ -f "$dest/opt/fedra/share/doc/fedra/hub-config.md" ] && ok "the hub's config doc installed" \
    || fail "hub-config.md missing"
expect_status 0 "installed fedra-hub runs" "$dest/opt/fedra/bin/fedra-hub" --help
done_checks
