#!/bin/bash
# 20-import: `fedra-node import` through the real binary: exit statuses,
# report lines, nothing imported on error (counted with the sqlite3 CLI),
# idempotent re-import, --replace, the snapshot hash recomputed with
# sqlite3 + sha256sum, and the time to import 1,000,000 rows.
. "$ROOT/tests/integration/lib.sh"

cd "$WORK" || exit 1
cp "$ROOT"/tests/data/csv/*.csv .
count() { sqlite3 "$1" 'SELECT count(*) FROM patient'; }
# The canonical dataset hash, computed independently of fedra (see node/import.c).
dbhash() {
    sqlite3 -separator $'\x1f' -newline $'\x1e' "$1" \
        'SELECT * FROM patient ORDER BY patient_id' | sha256sum | cut -d' ' -f1
}
metahash() { sqlite3 "$1" "SELECT value FROM meta WHERE key='hash'"; }

echo "-- usage"
expect_status 0 "--help exits 0" fedra-node import --help
expect_grep '^usage: fedra-node import --db FILE \[--replace\] CSV' "$WORK/last.out" "--help shows the usage"
expect_grep 'desmoplastic_small_round_cell_tumour' "$WORK/last.out" "--help lists the tumour_type codes"
expect_status 2 "no --db is a usage error" fedra-node import good.csv
expect_grep "^import: missing --db FILE" "$WORK/last.err" "missing --db is named"
expect_status 2 "no CSV is a usage error" fedra-node import --db s.db
expect_grep "^import: no CSV file given" "$WORK/last.err" "missing CSV is named"
expect_status 2 "unknown option is a usage error" fedra-node import --db s.db --frobnicate good.csv
expect_grep "^import: unknown option '--frobnicate'" "$WORK/last.err" "unknown option is named"
expect_status 2 "--db without a value" fedra-node import --db
echo "-- fedra-node's help: one table gives the list, each command's help and the dispatch"
expect_status 0 "fedra-node --help exits 0" fedra-node --help
cp "$WORK/last.out" list.txt
for c in import serve status "audit verify" "audit export"; do
    expect_help fedra-node "$c" list.txt
done
expect_status 2 "an unknown command is a usage error" fedra-node frobnicate
expect_grep "unknown command 'frobnicate'; run 'fedra-node --help'" "$WORK/last.err" "it says so and points at --help"
expect_status 2 "an unknown audit action is a usage error" fedra-node audit frobnicate
expect_grep "unknown action 'frobnicate' \(verify or export\)" "$WORK/last.err" "it names the actions"
check "usage errors create no store" test ! -e s.db

echo "-- first import and re-import"
expect_status 0 "good.csv imports" fedra-node import --db s.db good.csv
expect_grep '^rows read: 5, inserted: 5, updated: 0, unchanged: 0$' "$WORK/last.out" "counts after the first import"
check "sqlite3 counts 5 rows" test "$(count s.db)" = 5
h1=$(metahash s.db)
check "meta hash is the canonical hash" test "$h1" = "$(dbhash s.db)"
expect_status 0 "re-import succeeds" fedra-node import --db s.db good.csv
expect_grep '^rows read: 5, inserted: 0, updated: 0, unchanged: 5$' "$WORK/last.out" "re-import changes nothing"
check "hash unchanged by re-import" test "$(metahash s.db)" = "$h1"
expect_status 0 "update imports" fedra-node import --db s.db good_update.csv
expect_grep '^rows read: 6, inserted: 1, updated: 1, unchanged: 4$' "$WORK/last.out" "update counts"
check "sqlite3 counts 6 rows" test "$(count s.db)" = 6
check "meta hash follows the update" test "$(metahash s.db)" = "$(dbhash s.db)"

echo "-- all or nothing"
expect_status 1 "a bad row rejects the whole import" fedra-node import --db s.db good.csv second_bad.csv
expect_grep '^second_bad\.csv:3: stage: stage IV: must be one of localized, regional, metastatic, unknown$' \
    "$WORK/last.err" "report line FILE:LINE: COLUMN: VALUE: RULE"
expect_grep '^import: 1 error in 8 rows; nothing was imported$' "$WORK/last.err" "summary line"
check "no counts on stdout" test ! -s "$WORK/last.out"
check "store still has 6 rows" test "$(count s.db)" = 6
check "P002 keeps its updated value" test "$(sqlite3 s.db "SELECT last_contact_date FROM patient WHERE patient_id='P002'")" = 2018-02-01
expect_status 1 "a bad file into a new store" fedra-node import --db new.db good.csv bad_age.csv
check "the new store has 0 rows" test "$(count new.db)" = 0
expect_grep '^bad_age\.csv:5: age_at_diagnosis_days: 36501: must be a whole number of days from 0 to 36500$' \
    "$WORK/last.err" "age one past the limit"
expect_status 1 "quoted multi-line field" fedra-node import --db new.db quoted.csv
expect_grep '^quoted\.csv:6: sex: Z: must be one of F, M, U$' "$WORK/last.err" "line number after a multi-line field"
expect_grep "^quoted\.csv:1: warning: unknown column 'note' is ignored$" "$WORK/last.err" "unknown column warning"
expect_status 1 "missing column" fedra-node import --db new.db missing_column.csv
expect_grep "^missing_column\.csv:1: required column 'sex' is missing from the header$" "$WORK/last.err" "missing column named"
today=$(date +%F)
printf '%s\n' "$(head -1 good.csv)" \
    'F1,,F,10,2999-01-01,melanoma,,,localized,yes,no,no,alive,2999-01-02,' > future.csv
expect_status 1 "a future diagnosis date" fedra-node import --db new.db future.csv
expect_grep "^future\.csv:2: diagnosis_date: 2999-01-01: after today \($today\)$" "$WORK/last.err" "after today names today"
check "the new store still has 0 rows" test "$(count new.db)" = 0
expect_status 0 "BOM and CRLF" fedra-node import --db new.db bom_crlf.csv
expect_grep '^rows read: 3, inserted: 3, updated: 0, unchanged: 0$' "$WORK/last.out" "BOM and CRLF rows"

echo "-- files as spreadsheet programs save them"
# Where the decimal separator is a comma, "CSV" is separated by semicolons.
tr , ';' < good.csv > semicolons.csv
expect_status 1 "a semicolon-separated file" fedra-node import --db new.db semicolons.csv
expect_grep '^semicolons\.csv:1: header: patient_id;eupid;sex;.*\.\.\.: the separator must be a comma, not a semicolon \(export the file as comma-separated CSV\)$' \
    "$WORK/last.err" "the separator is named, once"
expect_grep '^import: 1 error in 0 rows; nothing was imported$' "$WORK/last.err" "semicolons: summary"
# Latin-1 (Windows-1252): é is the one byte 0xe9, not UTF-8.
printf '%s\n' "$(head -1 good.csv)" \
    'L1,René Müller,F,10,2015-03-01,melanoma,,,localized,yes,no,no,alive,2016-01-02,' > utf8.csv
iconv -f UTF-8 -t LATIN1 utf8.csv > latin1.csv
expect_status 1 "a Latin-1 file" fedra-node import --db new.db latin1.csv
expect_grep '^latin1\.csv:2: eupid: Ren\\xe9 M\\xfcller: not valid UTF-8: byte 0xe9 at character 4 \(save the file as UTF-8\)$' \
    "$WORK/last.err" "line, column and byte of the first non-UTF-8 byte"
sed 's/^L1,/"L1",/' latin1.csv > latin1_quoted.csv
expect_status 1 "a Latin-1 file with quotes" fedra-node import --db new.db latin1_quoted.csv
expect_grep '^latin1_quoted\.csv:2: eupid: Ren\\xe9 M\\xfcller: not valid UTF-8: byte 0xe9 at character 4' \
    "$WORK/last.err" "the same through the quoted-field parser"
check "nothing imported from them" test "$(count new.db)" = 3
printf '%s\n' "$(head -1 good.csv)" \
    'W1,,F,10,2015-03-01,melanoma,,,localized ,yes,no,no,alive,2016-01-02,' > spaces.csv
expect_status 1 "a value with a trailing space" fedra-node import --db new.db spaces.csv
expect_grep "^spaces\.csv:2: stage: 'localized ': must be one of localized, regional, metastatic, unknown$" \
    "$WORK/last.err" "the space shows, in quotes"
expect_status 0 "the same file saved as UTF-8 imports" fedra-node import --db new.db utf8.csv
check "René Müller is stored as UTF-8" test "$(sqlite3 new.db "SELECT eupid FROM patient WHERE patient_id='L1'")" = "René Müller"

echo "-- replace"
expect_status 0 "--replace" fedra-node import --db s.db --replace replace.csv
expect_grep '^rows read: 2, inserted: 1, updated: 1, unchanged: 0, deleted: 5$' "$WORK/last.out" "replace counts"
check "store holds exactly the replacement" test "$(sqlite3 s.db 'SELECT group_concat(patient_id) FROM (SELECT patient_id FROM patient ORDER BY 1)')" = P002,P007
check "hash after replace is canonical" test "$(metahash s.db)" = "$(dbhash s.db)"
expect_status 0 "back to good.csv with --replace" fedra-node import --db s.db --replace good.csv
check "hash equals the first import's" test "$(metahash s.db)" = "$h1"

echo "-- bad store files"
head -c 8192 /dev/urandom > junk.db
expect_status 1 "a non-database store" fedra-node import --db junk.db good.csv
expect_grep "^import: 'junk\.db' is not a fedra store \(file is not a database\)$" "$WORK/last.err" "corrupted store named"

echo "-- 1,000,000 rows"
awk -v n=1000000 'BEGIN {
    split("adrenocortical_carcinoma melanoma thyroid_carcinoma chordoma nut_carcinoma other", tt, " ")
    split("localized regional metastatic unknown", st, " ")
    split("yes no unknown", yn, " ")
    print "patient_id,eupid,sex,age_at_diagnosis_days,diagnosis_date,tumour_type,icdo3_morphology,icdo3_topography,stage,surgery,chemotherapy,radiotherapy,vital_status,last_contact_date,event_date"
    for (i = 1; i <= n; i++) {
        y = 1990 + i % 30; m = 1 + i % 12; d = 1 + i % 28
        ev = (i % 5 == 0) ? sprintf("%04d-%02d-%02d", y + 1, m, d) : ""
        printf "R%07d,EU%07d,%s,%d,%04d-%02d-%02d,%s,8370/3,C74.0,%s,%s,%s,%s,%s,%04d-%02d-%02d,%s\n",
            i, i, (i % 2 ? "F" : "M"), i % 7000, y, m, d, tt[1 + i % 6], st[1 + i % 4],
            yn[1 + i % 3], yn[1 + (i + 1) % 3], yn[1 + (i + 2) % 3], (i % 3 ? "alive" : "dead"),
            y + 2, m, d, ev
    }
}' > big.csv
t0=$(date +%s%N)
expect_status 0 "1,000,000 rows import" fedra-node import --db big.db big.csv
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "  import of 1,000,000 rows: $ms ms, $(( 1000000 * 1000 / (ms > 0 ? ms : 1) )) rows/s"
expect_grep '^rows read: 1000000, inserted: 1000000, updated: 0, unchanged: 0$' "$WORK/last.out" "big import counts"
check "1,000,000 rows in under 60 s" test "$ms" -lt 60000
check "sqlite3 counts 1000000 rows" test "$(count big.db)" = 1000000
check "big hash is canonical" test "$(metahash big.db)" = "$(dbhash big.db)"
t0=$(date +%s%N)
expect_status 0 "1,000,000 rows re-import" fedra-node import --db big.db big.csv
t1=$(date +%s%N)
echo "  re-import of 1,000,000 rows: $(( (t1 - t0) / 1000000 )) ms"
expect_grep '^rows read: 1000000, inserted: 0, updated: 0, unchanged: 1000000$' "$WORK/last.out" "big re-import unchanged"
rm -f big.csv big.db big.db-wal big.db-shm

done_checks
