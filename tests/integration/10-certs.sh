#!/bin/bash
# 10-certs - fedra-cert end to end, cross-checked with the openssl CLI:
# a CA, node and analyst certificates, revocation and CRLs, and the CA
# directory driven by `openssl ca` as well.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK" || exit 1
command -v openssl >/dev/null || { echo "  openssl CLI missing"; exit 1; }

mode() { stat -c %a "$1"; }
# crlnum FILE: the CRL number in decimal (openssl prints crlNumber=0x0A).
crlnum() { h=$(openssl crl -in "$1" -noout -crlnumber | sed 's/^crlNumber=0x//'); echo $((16#${h:-0})); }

echo "-- CA and certificates"
expect_status 0 "init creates the CA" fedra-cert init --ca ca --name "test CA"
check "ca.key is mode 600" [ "$(mode ca/ca.key)" = 600 ]
expect_status 1 "init refuses to overwrite a CA" fedra-cert init --ca ca
expect_grep "already exists" "$WORK/last.err" "init says the CA exists"
expect_status 0 "issue node DE" fedra-cert issue --ca ca --role node --name DE --out out
expect_status 0 "issue analyst alice" fedra-cert issue --ca ca --role analyst --name alice --out out
check "DE.key is mode 600" [ "$(mode out/DE.key)" = 600 ]
check "alice.key is mode 600" [ "$(mode out/alice.key)" = 600 ]
check "openssl pkey reads DE.key as Ed25519" sh -c 'openssl pkey -in out/DE.key -noout -text | grep -q "ED25519 Private-Key"'
check "openssl pkey reads alice.key" openssl pkey -in out/alice.key -noout
check "key matches certificate (openssl)" sh -c \
    '[ "$(openssl pkey -in out/alice.key -pubout)" = "$(openssl x509 -in out/alice.crt -noout -pubkey)" ]'
expect_status 1 "issue refuses to overwrite alice" fedra-cert issue --ca ca --role analyst --name alice --out out
expect_grep "alice.key' already exists" "$WORK/last.err" "overwrite refusal names the file"

openssl x509 -in out/DE.crt -noout -text >de.txt
openssl x509 -in out/alice.crt -noout -text >alice.txt
expect_grep "Extended Key Usage: critical" de.txt "node EKU is critical"
expect_grep "2\.25\.32931296437746250958793479766646300216\.1\.1" de.txt "node EKU holds the node role OID"
expect_grep "URI:urn:fedra:node:DE" de.txt "node SAN URI"
expect_grep "2\.25\.32931296437746250958793479766646300216\.2\.1" de.txt "node certificate carries the Curve key extension"
expect_grep "2\.25\.32931296437746250958793479766646300216\.1\.2" alice.txt "analyst EKU holds the analyst role OID"
expect_grep "URI:urn:fedra:analyst:alice" alice.txt "analyst SAN URI"
expect_grep "Basic Constraints: critical" alice.txt "basicConstraints critical"
expect_grep "CA:FALSE" alice.txt "leaf is not a CA"
expect_grep "Key Usage: critical" alice.txt "keyUsage critical"
expect_grep "Subject: O = fedra, CN = alice" alice.txt "subject O=fedra, CN=alice"
openssl x509 -in ca/ca.crt -noout -text >ca.txt
expect_grep "CA:TRUE, pathlen:1" ca.txt "root CA is CA:TRUE pathlen:1 (may certify one level of issuing CAs)"
expect_grep "Certificate Sign, CRL Sign" ca.txt "CA keyUsage keyCertSign, cRLSign"

echo "-- inspect"
expect_status 0 "inspect node certificate" fedra-cert inspect out/DE.crt
expect_grep "role: +node" "$WORK/last.out" "inspect shows the role"
expect_grep "curve key: +[0-9a-f]{64}" "$WORK/last.out" "inspect shows the curve key"
fp=$(openssl x509 -in out/DE.crt -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
expect_grep "sha256: +$fp" "$WORK/last.out" "inspect fingerprint equals openssl's"
serial=$(openssl x509 -in out/DE.crt -noout -serial | sed 's/serial=//')
expect_grep "serial: +$serial" "$WORK/last.out" "inspect serial equals openssl's"

echo "-- CRL and verification"
expect_status 0 "crl" fedra-cert crl --ca ca --out crl.pem
n1=$(crlnum crl.pem)
check "openssl verifies node with CRL" sh -c \
    'openssl verify -x509_strict -crl_check_all -CAfile ca/ca.crt -CRLfile crl.pem out/DE.crt | grep -q ": OK"'
check "openssl verifies analyst with CRL" sh -c \
    'openssl verify -crl_check -CAfile ca/ca.crt -CRLfile crl.pem out/alice.crt | grep -q ": OK"'
expect_status 0 "fedra-cert verify analyst" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem --role analyst out/alice.crt
expect_grep "^OK: certificate 'alice' \(role analyst\) valid until [0-9-]{10}T[0-9:]{8}Z$" "$WORK/last.out" "verify prints the OK line"
expect_status 1 "node certificate as analyst is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem --role analyst out/DE.crt
expect_grep "role node, but analyst is required" "$WORK/last.err" "refusal names the role"
check "refusal is one line" [ "$(wc -l <"$WORK/last.err")" = 1 ]

expect_status 0 "revoke alice" fedra-cert revoke --ca ca --name alice --reason keyCompromise
expect_grep "^R	.*keyCompromise	" ca/index.txt "index.txt has the R line with the reason"
expect_status 0 "new crl" fedra-cert crl --ca ca --out crl.pem
n2=$(crlnum crl.pem)
check "CRL number increases ($n1 -> $n2)" [ "$n2" -gt "$n1" ]
openssl verify -crl_check -CAfile ca/ca.crt -CRLfile crl.pem out/alice.crt >ossl.out 2>&1
expect_grep "certificate revoked" ossl.out "openssl says alice is revoked"
expect_status 1 "fedra-cert verify refuses the revoked certificate" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/alice.crt
expect_grep "'alice' .*was revoked at .*keyCompromise" "$WORK/last.err" "verify names the revocation"
expect_status 0 "node still valid after alice's revocation" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/DE.crt
expect_status 0 "inspect the CRL" fedra-cert inspect crl.pem
expect_grep "revoked: +1" "$WORK/last.out" "inspect lists one revoked certificate"

echo "-- expired and foreign certificates"
expect_status 0 "issue a back-dated certificate" fedra-cert issue --ca ca --role analyst --name old --out out --start 2020-01-01 --days 30
expect_status 1 "expired certificate is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/old.crt
expect_grep "expired at 2020-01-31T00:00:00Z" "$WORK/last.err" "verify says expired and when"
openssl verify -CAfile ca/ca.crt out/old.crt >ossl.out 2>&1
expect_grep "certificate has expired" ossl.out "openssl agrees it expired"
fedra-cert init --ca other --name "other CA" >/dev/null &&
    fedra-cert issue --ca other --role analyst --name mallory --out out >/dev/null
expect_status 1 "certificate from another CA is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/mallory.crt
expect_grep "not issued by the federation CA 'test CA'" "$WORK/last.err" "verify names the unknown CA"

echo "-- every cause named exactly, as openssl sees it"
expect_status 0 "issue a certificate valid from 2030" fedra-cert issue --ca ca --role analyst --name future --out out --start 2030-01-01 --days 30
expect_status 1 "not-yet-valid certificate is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/future.crt
fserial=$(openssl x509 -in out/future.crt -noout -serial | sed 's/serial=//')
expect_grep "^fedra-cert verify: certificate 'future' \(serial $fserial\) is not valid before 2030-01-01T00:00:00Z$" "$WORK/last.err" "verify names the serial and the start"
openssl verify -CAfile ca/ca.crt out/future.crt >ossl.out 2>&1
expect_grep "certificate is not yet valid" ossl.out "openssl agrees it is not yet valid"
# A flipped bit in the signature (the last byte of the DER).
openssl x509 -in out/DE.crt -outform DER -out de.der
sz=$(stat -c %s de.der)
last=$(od -An -tu1 -j $((sz - 1)) -N1 de.der | tr -d ' ')
printf "$(printf '\\%03o' $((last ^ 1)))" | dd of=de.der bs=1 seek=$((sz - 1)) conv=notrunc status=none
expect_status 1 "a certificate with a bad signature is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem de.der
expect_grep "certificate 'DE' \(serial [0-9A-F]+\) has a signature that does not verify with the key of CA 'test CA' \(bad signature" "$WORK/last.err" "verify says bad signature"
openssl verify -CAfile ca/ca.crt de.der >ossl.out 2>&1
expect_grep "certificate signature failure" ossl.out "openssl agrees the signature fails"
# A CRL past its nextUpdate (openssl ca can make one that lives one second).
openssl ca -config ca/openssl.cnf -gencrl -crlsec 1 -out short.crl 2>/dev/null
sleep 2
nu=$(date -u -d "$(openssl crl -in short.crl -noout -nextupdate | sed 's/nextUpdate=//')" +%Y-%m-%dT%H:%M:%SZ)
expect_status 1 "an expired CRL fails closed" fedra-cert verify --ca-cert ca/ca.crt --crl short.crl out/DE.crt
expect_grep "the CRL from 'test CA' \(number [0-9]+\) expired at $nu \(its nextUpdate\)" "$WORK/last.err" "verify names the CRL's nextUpdate ($nu)"
openssl verify -crl_check -CAfile ca/ca.crt -CRLfile short.crl out/DE.crt >ossl.out 2>&1
expect_grep "CRL has expired" ossl.out "openssl agrees the CRL expired"

echo "-- an issuing CA under the root"
expect_status 0 "init --parent creates an issuing CA" fedra-cert init --ca issuing --name "Issuing CA" --parent ca
expect_grep "^V	.*	/O=fedra/CN=Issuing CA$" ca/index.txt "the root records the issuing CA in its index"
openssl x509 -in issuing/ca.crt -noout -text >iss.txt
expect_grep "CA:TRUE, pathlen:0" iss.txt "issuing CA is CA:TRUE pathlen:0"
expect_grep "Issuer: O = fedra, CN = test CA" iss.txt "issuing CA is signed by the root"
expect_status 0 "issue under the issuing CA" fedra-cert issue --ca issuing --role node --name FR --out out
check "FR.crt is leaf + issuing CA" [ "$(grep -c 'BEGIN CERTIFICATE' out/FR.crt)" = 2 ]
expect_status 0 "inspect FR.crt" fedra-cert inspect out/FR.crt
iserial=$(openssl x509 -in issuing/ca.crt -noout -serial | sed 's/serial=//')
expect_grep "chain: +CA 'Issuing CA' \(serial $iserial\), valid until" "$WORK/last.out" "inspect shows the issuing CA carried in the file"
fedra-cert crl --ca ca --out root.crl >/dev/null && fedra-cert crl --ca issuing --out iss.crl >/dev/null
cat root.crl iss.crl >both.crl
check "openssl -untrusted -crl_check_all verifies FR" sh -c \
    'openssl verify -x509_strict -crl_check_all -CAfile ca/ca.crt -untrusted out/FR.crt -CRLfile both.crl out/FR.crt | grep -q ": OK"'
expect_status 0 "fedra-cert verify agrees (root only as the trust anchor)" fedra-cert verify --ca-cert ca/ca.crt --crl both.crl --role node out/FR.crt
expect_status 0 "renew FR for its key" fedra-cert issue --ca issuing --role node --name FR --key out/FR.key --out renew
check "renewal writes no key file" [ ! -e renew/FR.key ]
check "renewed certificate holds the same public key (openssl)" sh -c \
    '[ "$(openssl x509 -in renew/FR.crt -noout -pubkey)" = "$(openssl x509 -in out/FR.crt -noout -pubkey)" ]'
expect_status 0 "revoke the issuing CA at the root" fedra-cert revoke --ca ca --name "Issuing CA" --reason CACompromise
fedra-cert crl --ca ca --out root.crl >/dev/null && cat root.crl iss.crl >both.crl
expect_status 1 "FR is refused once its issuing CA is revoked" fedra-cert verify --ca-cert ca/ca.crt --crl both.crl out/FR.crt
expect_grep "certificate 'FR' \(serial [0-9A-F]+\): its CA 'Issuing CA' \(serial [0-9A-F]+\) was revoked at [0-9T:-]+Z \(reason CACompromise\)" "$WORK/last.err" "verify names the issuing CA, when and why"
openssl verify -x509_strict -crl_check_all -CAfile ca/ca.crt -untrusted out/FR.crt -CRLfile both.crl out/FR.crt >ossl.out 2>&1
expect_grep "error 23 at 1 depth lookup: certificate revoked" ossl.out "openssl agrees (depth 1 revoked)"

echo "-- openssl ca on the same directory"
expect_status 0 "openssl ca -gencrl works" openssl ca -config ca/openssl.cnf -gencrl -out crl-ossl.pem
n3=$(crlnum crl-ossl.pem)
check "openssl's CRL number continues ($n2 -> $n3)" [ "$n3" -gt "$n2" ]
expect_status 0 "fedra-cert accepts openssl's CRL" fedra-cert verify --ca-cert ca/ca.crt --crl crl-ossl.pem out/DE.crt
expect_status 1 "openssl's CRL also revokes alice" fedra-cert verify --ca-cert ca/ca.crt --crl crl-ossl.pem out/alice.crt
dserial=$(openssl x509 -in out/DE.crt -noout -serial | sed 's/serial=//')
expect_status 0 "openssl ca -revoke on our index" openssl ca -config ca/openssl.cnf -revoke "ca/certs/$dserial.pem" -crl_reason superseded
expect_status 0 "crl after openssl's revocation" fedra-cert crl --ca ca --out crl.pem
n4=$(crlnum crl.pem)
check "CRL number still increases ($n3 -> $n4)" [ "$n4" -gt "$n3" ]
expect_status 1 "node revoked through openssl is refused" fedra-cert verify --ca-cert ca/ca.crt --crl crl.pem out/DE.crt
expect_grep "'DE' .*was revoked at .*superseded" "$WORK/last.err" "verify names openssl's revocation"

echo "-- usage and key errors"
expect_status 2 "unknown command is a usage error" fedra-cert frobnicate
expect_grep "unknown command 'frobnicate'; run 'fedra-cert --help'" "$WORK/last.err" "an unknown command points at --help"
expect_status 2 "missing --role is a usage error" fedra-cert issue --ca ca --name x --out out
expect_grep "missing --role" "$WORK/last.err" "usage error names the missing option"
expect_status 2 "bad name is a usage error" fedra-cert issue --ca ca --role node --name 'a b' --out out
expect_status 2 "bad --start is a usage error" fedra-cert issue --ca ca --role node --name x --out out --start 2021-02-30
expect_status 0 "fedra-cert --help exits 0" fedra-cert --help
cp "$WORK/last.out" list.txt
for c in init issue revoke crl inspect verify; do
    expect_help fedra-cert $c list.txt
done
chmod 644 ca/ca.key
expect_status 1 "CA key readable by others is refused" fedra-cert crl --ca ca --out crl2.pem
expect_grep "mode 0644\); run chmod 600" "$WORK/last.err" "message names the mode and the fix"
chmod 600 ca/ca.key

done_checks
