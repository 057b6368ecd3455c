# models-lib.sh - the live comparison with R that 65-models and 66-models15 share
# (sourced, not run; lib.sh first).
#
# answered CMD...: exit 0, or 3 (some nodes did not take part)
answered() { "$@"; s=$?; [ "$s" = 0 ] || [ "$s" = 3 ]; }
# models_compare KIND ENDPOINT GRID TIES TERMS OUTCOME R-WHERE STRATA TOL fedra-args...:
# fedra's fit (CSV and JSON, with --allow-partial, as a node's policy may refuse a
# random draw) against models.R's coxph or glm on all.csv (the nodes that took part)
models_compare() {
    kind=$1 ep=$2 grid=$3 ties=$4 covs=$5 outc=$6 rwhere=$7 strata=$8 tol=$9; shift 9
    if answered fedra --format csv "$kind" "$@" --allow-partial >f.csv 2>f.err &&
        answered fedra --format json "$kind" "$@" --allow-partial >f.json 2>>f.err &&
        Rscript "$ROOT/tests/integration/models.R" all.csv f.csv f.json "$kind" "$ep" "$grid" "$ties" \
            "$covs" "$outc" "$rwhere" "$strata" "$tol" >r.out 2>&1; then
        ok "$kind $* equals R ($tol): $(tail -n 1 r.out)"
    else
        fail "$kind $* differs from R"; sed 's/^/       | /' f.err r.out | head -12
    fi
}
# model_nodes N BASE SPREAD: fresh data N1.csv .. NN.csv (BASE + (seed * i) % SPREAD
# rows, seeds from $seed) and all.csv pooling them; node_args gets "N1=N1.csv ...".
model_nodes() {
    node_args=""
    : >all.csv
    for i in $(seq 1 "$1"); do
        fedra-gendata --country "N$i" --rows $(( $2 + (seed * i) % $3 )) --seed "$((seed + i))" >"N$i.csv"
        if [ "$i" = 1 ]; then cat "N$i.csv" >all.csv; else tail -n +2 "N$i.csv" >>all.csv; fi
        node_args="$node_args N$i=N$i.csv"
    done
}
