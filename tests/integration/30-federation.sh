# 30-federation - a real three-node federation on loopback: signed counts
# merged and checked against an independent count (sqlite3 over the
# concatenated CSVs), output formats, and a node that dies.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"

fedra-gendata --country AA --rows 700 >AA.csv
fedra-gendata --country BB --rows 260 >BB.csv
fedra-gendata --country CC --rows 45 >CC.csv

# min_cell=1: nothing is suppressed, so every merged cell must be exact.
check "federation up (3 nodes, min_cell=1)" \
    "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv --set min_cell=1
. fed/env

# Independent oracle: load the concatenated CSVs into sqlite3 and count there.
{ cat AA.csv; tail -n +2 BB.csv; tail -n +2 CC.csv; } >all.csv
sqlite3 oracle.db <<'SQL'
.mode csv
.import all.csv p
CREATE VIEW v AS SELECT *, CAST(age_at_diagnosis_days / 365.25 AS INTEGER) AS age_years,
  CAST(substr(diagnosis_date, 1, 4) AS INTEGER) AS diagnosis_year FROM p;
SQL
oracle() { sqlite3 -csv oracle.db "$1"; }
# The documented count columns: every CSV ends with the nodes column (README, "Results").
drop_nodes() { sed 's/,[^,]*$//'; }

expect_status 0 "count with no grouping" fedra --format csv count
total=$(sed -n 2p "$WORK/last.out" | drop_nodes)
want=$(oracle "SELECT count(*), count(*) FROM v")
[ "$total" = "$want" ] && ok "total $total equals the pooled CSV count" || fail "total '$total' != '$want'"

expect_status 0 "count --by stage,sex" fedra --format csv count --by stage,sex
tail -n +2 "$WORK/last.out" | drop_nodes >got.csv
oracle "SELECT stage, sex, count(*), count(*) FROM v GROUP BY stage, sex
        ORDER BY CASE stage WHEN 'localized' THEN 0 WHEN 'regional' THEN 1 WHEN 'metastatic' THEN 2 ELSE 3 END,
                 CASE sex WHEN 'F' THEN 0 WHEN 'M' THEN 1 ELSE 2 END" >want.csv
cmp -s got.csv want.csv && ok "stage x sex cells equal the pooled counts, in level order" \
    || { fail "stage x sex differs"; diff got.csv want.csv | head; }

expect_status 0 "count with --where and an integer variable" \
    fedra --format csv count --by tumour_type --where "stage=metastatic and age_years<10 and tumour_type in (melanoma,thyroid_carcinoma,adrenocortical_carcinoma)"
tail -n +2 "$WORK/last.out" | drop_nodes >got.csv
oracle "SELECT tumour_type, count(*), count(*) FROM v WHERE stage='metastatic' AND age_years<10
        AND tumour_type IN ('melanoma','thyroid_carcinoma','adrenocortical_carcinoma')
        GROUP BY tumour_type ORDER BY CASE tumour_type WHEN 'adrenocortical_carcinoma' THEN 0
        WHEN 'melanoma' THEN 3 ELSE 4 END" >want.csv
cmp -s got.csv want.csv && ok "filtered counts equal the pooled counts" \
    || { fail "filtered counts differ"; diff got.csv want.csv | head; }

expect_status 0 "count --by diagnosis_year,age_group (4-way limit not reached)" \
    fedra --format csv count --by diagnosis_year,age_group --where "diagnosis_year>=2015"
tail -n +2 "$WORK/last.out" | drop_nodes >got.csv
oracle "SELECT diagnosis_year, CASE WHEN age_years<5 THEN '0-4' WHEN age_years<10 THEN '5-9'
        WHEN age_years<15 THEN '10-14' WHEN age_years<20 THEN '15-19' ELSE '20+' END AS ag,
        count(*), count(*) FROM v WHERE diagnosis_year>=2015 GROUP BY 1, 2
        ORDER BY 1, CASE ag WHEN '0-4' THEN 0 WHEN '5-9' THEN 1 WHEN '10-14' THEN 2 WHEN '15-19' THEN 3 ELSE 4 END" >want.csv
cmp -s got.csv want.csv && ok "year x age group equals the pooled counts" \
    || { fail "year x age group differs"; diff got.csv want.csv | head; }

expect_status 0 "count --by morphology (open ICD-O-3 levels, missing excluded)" \
    fedra --format csv count --by morphology
tail -n +2 "$WORK/last.out" | drop_nodes >got.csv
oracle "SELECT icdo3_morphology, count(*), count(*) FROM v WHERE icdo3_morphology <> ''
        GROUP BY 1 ORDER BY 1" >want.csv
cmp -s got.csv want.csv && ok "morphology counts equal the pooled counts" \
    || { fail "morphology differs"; diff got.csv want.csv | head; }

# --chisq against R's chisq.test on the pooled records (2x2: Yates; r x c: plain).
for pair in sex,stage surgery,vital_status sex,vital_status; do
    # sex in (F,M) makes the last one a 2x2 table, where R applies Yates' correction.
    expect_status 0 "count --by $pair --chisq" fedra --format json count --by $pair --chisq --where "sex in (F,M)"
    got=$(tr -d ' \n' <"$WORK/last.out" | grep -o '"statistic":[^,]*,"df":[0-9]*,"p":[^,]*' | sed 's/"[a-z]*"://g')
    want=$(Rscript -e "d <- read.csv('all.csv', stringsAsFactors = FALSE); d <- d[d\$sex %in% c('F','M'), ];
        a <- strsplit('$pair', ',')[[1]]
        t <- suppressWarnings(chisq.test(table(d[[a[1]]], d[[a[2]]])))
        cat(sprintf('%.17g,%d,%.17g', t\$statistic, t\$parameter, t\$p.value))")
    if [ -n "$got" ] && Rscript -e "g <- as.numeric(strsplit('$got', ',')[[1]]); w <- as.numeric(strsplit('$want', ',')[[1]]);
            quit(status = if (all(abs(g - w) <= 1e-9 * abs(w))) 0 else 1)"; then
        ok "chi-square of $pair equals chisq.test ($got)"
    else fail "chi-square of $pair: fedra '$got', R '$want'"; fi
done
expect_status 2 "--chisq needs two variables" fedra count --by sex --chisq

expect_status 0 "json output" fedra --format json count --by vital_status
expect_grep '"status": "ok"' "$WORK/last.out" "json lists node statuses"
expect_grep '"count_max"' "$WORK/last.out" "json cells carry count and count_max"
expect_status 0 "table output" fedra count --by stage
expect_grep '^nodes: 3 of 3 answered' "$WORK/last.out" "table reports per-node status"

expect_status 0 "ping" fedra ping
expect_grep 'AA +ok' "$WORK/last.out" "ping names each node"

# Five nodes would exceed nothing; five grouping variables exceed the limit.
expect_status 2 "more than 4 grouping variables is a usage error" \
    fedra count --by sex,stage,surgery,chemotherapy,radiotherapy

# A node that dies: exit 3 within the timeout, the others merged, the dead one named.
kill -9 "$(cat fed/nodes/CC/node.pid)"
start=$(date +%s%N)
expect_status 3 "a dead node gives exit status 3" fedra --timeout 1500 --format csv count --by sex
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 4000 ] && ok "dead node cost ${ms} ms (timeout 1500 ms)" || fail "took ${ms} ms"
# Behind a hub the hub knows the node's link is gone: status error, saying so.
st=timeout dead='CC +timeout'
[ "$hub_pass" = 1 ] && st=error dead="CC +error +node 'CC' is not connected to hub 'hub'"
expect_grep "$dead" "$WORK/last.err" "the missing node is named with its status"
got=$(tail -n +2 "$WORK/last.out" | awk -F, '{s += $2} END {print s}')
want=$({ tail -n +2 AA.csv; tail -n +2 BB.csv; } | wc -l)
[ "$got" = "$want" ] && ok "merge of the answering nodes is exact ($got)" || fail "merged $got, want $want"
expect_status 3 "json names the missing node too" fedra --timeout 1000 --format json count
expect_grep "\"status\": \"$st\"" "$WORK/last.out" "json status $st"

# Named limits of the command line: CLIENT_MAX_TIMEOUT_MS and WIRE_MAX_KM_BY.
expect_status 2 "--timeout above CLIENT_MAX_TIMEOUT_MS (3600000) is a usage error" fedra --timeout 3600001 ping
expect_grep "1\.\.3600000" "$WORK/last.err" "naming the bounds"
expect_status 3 "--timeout at the bound is accepted (CC is down)" fedra --timeout 3600000 --timeout 1000 ping
expect_status 2 "km takes at most two --by variables (WIRE_MAX_KM_BY)" fedra km --by stage,sex,surgery
expect_grep "at most 2 --by variables" "$WORK/last.err" "saying so"

# Help from the command table: every command with its options; one command's page.
expect_status 0 "fedra --help" fedra --help
for c in count km logrank cox glm ping send verify; do
    grep -Eq "^  $c( |\$)" "$WORK/last.out" || fail "--help does not list $c"; done
expect_grep "^ +--covariates V" "$WORK/last.out" "--help lists every command with its options (cox, glm too)"
for c in count km logrank cox glm ping send verify; do
    expect_status 0 "fedra $c --help" fedra $c --help
    expect_grep "^usage: fedra \[global options\] $c" "$WORK/last.out" "its own usage"
    expect_grep "^example:" "$WORK/last.out" "and an example"
done
expect_status 0 "fedra help glm" fedra help glm
expect_grep "^  --outcome V=LEVEL" "$WORK/last.out" "glm's options"
expect_status 2 "an unknown command is a usage error" fedra frobnicate
expect_grep "unknown command 'frobnicate'" "$WORK/last.err" "naming it"
expect_grep "fedra --help" "$WORK/last.err" "and pointing at fedra --help"
expect_status 2 "help for an unknown command too" fedra help frobnicate

"$ROOT/scripts/federation" down fed >/dev/null
grep -q 'SIGTERM received: stopping' fed/nodes/AA/node.log && grep -q 'stopped:' fed/nodes/AA/node.log \
    && ok "SIGTERM stops a node cleanly" || fail "no clean stop in AA's log"
done_checks
