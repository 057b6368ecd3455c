# 69-csv - every command's --format csv carries its whole result: R reads it
# with plain read.csv() (no other argument) and finds every value of the
# --format json output of the same query in it, the summary columns
# (chi-square, medians, tests, deviances, iterations, node statuses)
# included, as README.md "Results" documents them.  The expected values are
# taken from the JSON with python3's json module, not typed here.
. "$ROOT/tests/integration/lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }
command -v python3 >/dev/null || { fail "python3 not found"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
fedra-gendata --country AA --rows 600 --seed "$seed" >AA.csv
fedra-gendata --country BB --rows 300 --seed "$((seed + 1))" >BB.csv
fedra-gendata --country CC --rows 150 --seed "$((seed + 2))" >CC.csv
check "federation up" "$ROOT/scripts/federation" up fed AA=AA.csv BB=BB.csv CC=CC.csv \
    --set min_cell=1 --set query_audit=off --set min_events_per_parameter=1 --set time_grid_days=0
. fed/env

# want.py KIND ARGS < JSON: the CSV fedra should print, as "row<TAB>column<TAB>value" lines
# (row 1 = the first data row; NA for JSON null), from the JSON of the same query.
cat >want.py <<'PY'
import json, sys
kind, args = sys.argv[1], sys.argv[2:]
d = json.load(sys.stdin)
res = d["result"]
nodes = ";".join("%s=%s" % (n["name"], n["status"]) for n in d["nodes"])
rows = []
def val(x):
    if x is None: return "NA"
    if isinstance(x, bool): return "TRUE" if x else "FALSE"
    return repr(x) if isinstance(x, float) else str(x)
def arg(name):
    return args[args.index(name) + 1] if name in args else None
if kind == "count":
    by = arg("--by").split(",") if arg("--by") else []
    ch = res.get("chisq")
    for c in res["cells"]:
        r = {v: c[v] for v in by}
        r.update(count=c["count"], count_max=c["count_max"])
        if ch: r.update(chisq=ch["statistic"], df=ch["df"], p=ch["p"], yates=ch["yates"],
                        min_expected=ch["min_expected"])
        rows.append(r)
elif kind == "km":
    for c in res["curves"]:
        for p in c["rows"]:
            r = dict(p)
            r.update(strata=c["strata"], n=c["n"], events=c["events"], median=c["median"])
            r["median.lower"], r["median.upper"] = c["median_lower"], c["median_upper"]
            rows.append(r)
elif kind == "logrank":
    for g in res["groups"]:
        r = dict(g)
        r["oe2_over_e"] = (g["observed"] - g["expected"]) ** 2 / g["expected"]
        r.update(chisq=res["chisq"], df=res["df"], p=res["p"],
                 stratified_by_node=res["stratified_by_node"])
        rows.append(r)
elif kind in ("cox", "glm"):
    s = {k: res[k] for k in ("n", "nevent", "dropped", "excluded", "iterations", "rounds", "converged")}
    s["partial"] = d["partial"]
    if kind == "cox":
        s.update(ties=res["ties"], grid_days=res["grid_days"], endpoint=arg("--endpoint") or "os")
        s["loglik_initial"], s["loglik_final"] = res["loglik"]
        for t, c in (("likelihood_ratio", "lr"), ("wald", "wald"), ("score", "score")):
            x = res["tests"][t]
            s[c], s[c + "_df"], s[c + "_p"] = x["statistic"], x["df"], x["p"]
    else:
        s.update({k: res[k] for k in ("deviance", "null_deviance", "aic", "df_residual", "df_null")})
        s["outcome"] = arg("--outcome")
    for c in res["coefficients"]:
        r = dict(c); r.update(s); rows.append(r)
elif kind == "ping":
    for p, n in zip(res, d["nodes"]):
        rows.append(dict(name=p["name"], status=n["status"], rows=n.get("rows"),
                         cert_not_after=p.get("cert_not_after"), software=p.get("software")))
for i, r in enumerate(rows, 1):
    r["nodes"] = nodes
    for k, v in r.items():
        print("%d\t%s\t%s" % (i, k, val(v)))
PY

# compare.R CSV WANT: read.csv(CSV) holds every WANT value, numbers to the last bit
# (oe2_over_e, computed by python from the JSON, to 1e-13), in the right R type.
cat >compare.R <<'R'
a <- commandArgs(TRUE)
got <- read.csv(a[1])
want <- read.delim(a[2], header = FALSE, col.names = c("row", "col", "value"),
                   colClasses = c("integer", "character", "character"), quote = "", na.strings = NULL)
if (nrow(got) != max(c(0, want$row))) { cat("rows: csv", nrow(got), "json", max(want$row), "\n"); quit(status = 1) }
cols <- unique(want$col)
missing <- setdiff(make.names(cols), names(got))
if (length(missing)) { cat("columns missing from the CSV:", missing, "\n"); quit(status = 1) }
bad <- 0
for (k in seq_len(nrow(want))) {
  g <- got[[make.names(want$col[k])]][want$row[k]]; w <- want$value[k]
  same <- if (w == "NA") is.na(g) else if (is.logical(g)) identical(g, as.logical(w)) else
    if (is.numeric(g)) { x <- as.numeric(w); !is.na(g) && (g == x ||
      (want$col[k] == "oe2_over_e" && abs(g - x) <= 1e-13 * abs(x))) } else identical(as.character(g), w)
  if (!isTRUE(same)) { bad <- bad + 1
    if (bad <= 5) cat("row", want$row[k], want$col[k], ": csv", format(g, digits = 17), "json", w, "\n") }
}
if (!"nodes" %in% names(got) || names(got)[ncol(got)] != "nodes") { cat("nodes is not the last column\n"); bad <- bad + 1 }
cat(sprintf("%d values in %d columns x %d rows equal the JSON\n", nrow(want) - bad, length(cols), nrow(got)))
quit(status = if (bad == 0) 0 else 1)
R

# same NAME KIND ARGS...: the CSV and the JSON of one query agree, and R reads the CSV plainly.
same() {
    name=$1 kind=$2; shift 2
    fedra --format csv "$kind" "$@" >"$name.csv" 2>"$name.csv.err"; s1=$?
    fedra --format json "$kind" "$@" >"$name.json" 2>"$name.json.err"; s2=$?
    if [ "$s1" != "$s2" ] || { [ "$s1" != 0 ] && [ "$s1" != 3 ]; }; then
        fail "$name: exit $s1 (csv) and $s2 (json)"; sed 's/^/       | /' "$name.csv.err" | head -5; return; fi
    if python3 want.py "$kind" "$@" <"$name.json" >"$name.want" &&
        Rscript compare.R "$name.csv" "$name.want" >"$name.r" 2>&1; then
        ok "$name: read.csv finds the JSON's result: $(tail -n 1 "$name.r")"
    else
        fail "$name: the CSV does not carry the JSON's result"; sed 's/^/       | /' "$name.r" | head -8
    fi
}
same count count --by stage,sex
same count-chisq count --by surgery,vital_status --chisq
same count-chisq-2x2 count --by sex,vital_status --chisq --where "sex in (F,M)"
same count-total count
same km km --by stage
same km-times km --by stage --times 365,1825 --endpoint efs
same km-all km --conf-type log-log
same logrank logrank --by stage
same logrank-strat logrank --by stage --stratify-by-node
same cox cox --covariates stage,age_years,sex
same cox-efs cox --covariates stage,chemotherapy --endpoint efs --ties breslow --grid 0
same glm glm --outcome vital_status=dead --covariates stage,age_years
same ping ping

# The chi-square columns are absent without --chisq; logicals read as logicals.
Rscript -e 'd <- read.csv("count-chisq-2x2.csv"); stopifnot(is.logical(d$yates), d$yates[1],
    !("chisq" %in% names(read.csv("count.csv"))), is.logical(read.csv("cox.csv")$converged))' \
    >/dev/null 2>&1 && ok "yates and converged read as logicals; no chisq columns without --chisq" \
    || fail "CSV types: yates/converged not logical, or chisq columns without --chisq"

# A node that does not answer is named in every row's nodes column.
kill -9 "$(cat fed/nodes/CC/node.pid)"
same count-dead count --by stage --timeout 1500
# Behind a hub the hub knows the node's link is gone: status error, not timeout.
dead=timeout; [ "$hub_pass" = 1 ] && dead=error
grep -q "CC=$dead" count-dead.csv && ok "the dead node is named in the nodes column (CC=$dead)" \
    || fail "no CC=$dead in the nodes column"
same glm-dead glm --outcome vital_status=dead --covariates stage --timeout 1500 --allow-partial
# (the CSV's partial column equals the JSON's "partial", checked by same)
grep -q '"partial": true' glm-dead.json && ok "glm without CC: marked partial (--allow-partial)" \
    || fail "glm without CC: not marked partial"
"$ROOT/scripts/federation" down fed >/dev/null
done_checks
