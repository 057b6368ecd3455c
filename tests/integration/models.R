# models.R - the live oracle for fedra cox and fedra glm: fit the same model
# with R's survival::coxph / stats::glm on the pooled CSV and compare with
# fedra's output.
#
#   Rscript models.R POOLED.csv FEDRA.csv FEDRA.json KIND ENDPOINT GRID TIES COVARIATES OUTCOME WHERE [STRATA [TOL]]
#
# KIND cox|glm; GRID 0 = exact times; COVARIATES v1,v2,... (terms as R
# writes them: a:b, a*b); OUTCOME var=level (glm) or -; WHERE an R
# expression over the pooled columns, or TRUE; STRATA (cox) a variable for
# strata(V) besides strata(node), or -.  Exit 0 when coefficients and
# standard errors agree within TOL relative (default 1e-7; 1e-9 for the
# log-likelihoods and deviances, or TOL if smaller) and the iteration counts
# are equal.
suppressMessages(library(survival))
a <- commandArgs(TRUE)
pooled <- a[1]; fcsv <- a[2]; fjson <- a[3]; kind <- a[4]; endpoint <- a[5]
grid <- as.numeric(a[6]); ties <- a[7]; covs <- strsplit(a[8], ",")[[1]]
outcome <- a[9]; where <- a[10]
strata <- if (length(a) >= 11 && a[11] != "-") a[11] else NULL
tol <- if (length(a) >= 12) as.numeric(a[12]) else 1e-7
vars <- unique(unlist(strsplit(covs, "[:*]")))     # the variables of the terms

d <- read.csv(pooled, stringsAsFactors = FALSE, na.strings = "", colClasses = "character")
d$node <- sub("-.*", "", d$patient_id)
dx <- as.Date(d$diagnosis_date); lc <- as.Date(d$last_contact_date); ev <- as.Date(d$event_date)
dead <- as.integer(d$vital_status == "dead")
if (endpoint == "os") { t <- as.numeric(lc - dx); e <- dead } else {
  t <- ifelse(is.na(ev), as.numeric(lc - dx), as.numeric(ev - dx)); e <- ifelse(is.na(ev), dead, 1L) }
if (grid > 0) t <- ceiling(t / grid) * grid
d$time <- t; d$status <- e
d$age_years <- floor(as.numeric(d$age_at_diagnosis_days) / 365.25)
d$diagnosis_year <- as.numeric(substr(d$diagnosis_date, 1, 4))
d$age_group <- cut(d$age_years, c(-1, 4, 9, 14, 19, Inf), labels = c("0-4", "5-9", "10-14", "15-19", "20+"))
d$morphology <- d$icdo3_morphology; d$topography <- d$icdo3_topography
# Factors as data-model.md lists the levels (ICD-O-3 codes sorted); droplevels below.
lv <- list(sex = c("F", "M", "U"), stage = c("localized", "regional", "metastatic", "unknown"),
  surgery = c("yes", "no", "unknown"), chemotherapy = c("yes", "no", "unknown"),
  radiotherapy = c("yes", "no", "unknown"), vital_status = c("alive", "dead"),
  tumour_type = c("adrenocortical_carcinoma", "pleuropulmonary_blastoma",
    "nasopharyngeal_carcinoma", "melanoma", "thyroid_carcinoma", "pancreatoblastoma",
    "solid_pseudopapillary_tumour", "gastrointestinal_stromal_tumour", "nut_carcinoma",
    "colorectal_carcinoma", "sex_cord_stromal_tumour", "thymic_tumour", "neuroendocrine_tumour",
    "desmoplastic_small_round_cell_tumour", "chordoma", "germ_cell_tumour_other", "other"))
for (v in names(lv)) d[[v]] <- factor(d[[v]], levels = lv[[v]])
for (v in c("morphology", "topography")) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))

# The claim is exactness over the nodes that took part: a node that refused
# (its policy) is named in fedra's output and left out of R's data too.
js0 <- paste(readLines(fjson), collapse = " ")
okn <- regmatches(js0, gregexpr('"name": *"[^"]*", *"status": *"ok"', js0))[[1]]
okn <- sub('"name": *"([^"]*)".*', "\\1", okn)
if (length(okn) == 0) { cat("no node answered\n"); quit(status = 1) }
d <- d[d$node %in% okn, ]
d <- d[eval(parse(text = where), d), ]
if (kind == "glm") {
  ov <- sub("=.*", "", outcome); ol <- sub("^[^=]*=", "", outcome)
  d <- d[!is.na(d[[ov]]), ]
  d$y <- as.integer(as.character(d[[ov]]) == ol)
}
d <- d[complete.cases(d[, c(vars, strata), drop = FALSE]), ]
d <- droplevels(d)
rhs <- paste(covs, collapse = " + ")
warns <- character()
# MODELS_MAXIT=N: fedra ran with --max-iter N (coxph's iter.max, glm's maxit)
maxit <- as.integer(Sys.getenv("MODELS_MAXIT", "0"))
fit <- withCallingHandlers(
  if (kind == "cox") coxph(as.formula(paste("Surv(time, status) ~", rhs,
                                            if (!is.null(strata)) paste0("+ strata(", strata, ")"),
                                            "+ strata(node)")),
                           data = d, ties = ties,
                           control = if (maxit > 0) coxph.control(iter.max = maxit) else coxph.control()) else
    glm(as.formula(paste("y ~", rhs)), family = binomial, data = d,
        control = if (maxit > 0) glm.control(maxit = maxit) else glm.control()),
  warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })

got <- read.csv(fcsv, stringsAsFactors = FALSE, check.names = FALSE)
js <- paste(readLines(fjson), collapse = " ")
num <- function(key) as.numeric(regmatches(js, regexpr(paste0('"', key, '": *[-0-9.eE+]+'), js)) |>
  sub(pattern = '^[^:]*: *', replacement = ''))
cf <- coef(fit); se <- sqrt(diag(vcov(fit)))
if (!identical(got$term, names(cf))) {
  cat("terms differ: fedra", got$term, "| R", names(cf), "\n"); quit(status = 1) }
fc <- if (kind == "cox") got$coef else got$estimate
rel <- function(g, w) { r <- abs(g - w) / pmax(abs(w), 1e-300); r[!is.na(w) & g == w] <- 0; r }
if (!all(is.na(fc) == is.na(cf))) { cat("NA pattern differs\n"); quit(status = 1) }
# Separation: a coefficient that R or fedra says may be infinite has no
# finite value to agree on (where the iteration stops depends on rounding);
# both must warn, and it is left out of the comparison.  The same for every
# coefficient when glm warns of fitted probabilities 0 or 1.
fw <- regmatches(js, gregexpr('"warnings": *\\[[^]]*\\]', js))[[1]]
inf_r <- as.integer(unlist(regmatches(warns, gregexpr("(?<=variable )\\s*[0-9]+", warns, perl = TRUE))))
inf_f <- as.integer(unlist(regmatches(fw, gregexpr("(?<=variable )[0-9]+", fw, perl = TRUE))))
# glm that did not converge (complete separation drives it there): the
# coefficients are wherever iteration 25 left them, and R's QR and fedra's
# normal equations lose different digits on the way; both must say so.
# (With MODELS_MAXIT the fit stopped where it was told to, on the same path:
# its coefficients are compared.)
nc <- if (maxit > 0) "numerically 0 or 1" else "numerically 0 or 1|did not converge"
sep_r <- any(grepl(nc, warns))
sep_f <- any(grepl(nc, fw))
if (any(grepl("Ran out of iterations", warns)) != any(grepl("Ran out of iterations", fw))) {
  cat("convergence warnings differ: R", warns, "| fedra", fw, "\n"); quit(status = 1) }
if ((length(inf_r) > 0) != (length(inf_f) > 0) || sep_r != sep_f) {
  cat("separation warnings differ: R", warns, "| fedra", fw, "\n"); quit(status = 1) }
ok <- !is.na(cf)
# ... with every other level of the same factor, whose contrasts are taken
# against levels that are themselves drifting to infinity.
# Under separation the other coefficients are fitted next to a coefficient
# that is heading for infinity, and their last digits follow rounding:
# only the log-likelihood, the iteration count and the warning are compared.
if (length(inf_r) > 0) ok[] <- FALSE
if (sep_r) ok[] <- FALSE
# A coefficient far below its standard error (a null effect that landed near
# 0) is relative to a number R itself knows only to about eps * cond of the
# fit's scale: on the draw that failed CI (seed 19085 of 97-pooled-models)
# an age effect of -1.07e-4 (SE 0.024) was 3.2e-12 of itself from the exact
# iterate in R and 2.8e-13 in fedra (test_glm).  So a coefficient is compared
# relative to itself or to 1e-3 of its SE, whichever is larger: still 1e-14
# of an SE at TOL 1e-11.
cscale <- pmax(abs(cf[ok]), 1e-3 * se[ok])
worst <- max(c(0, abs(fc[ok] - cf[ok]) / cscale, rel(got$se[ok], se[ok])))
iter_r <- if (kind == "cox") fit$iter else fit$iter
iter_f <- num("iterations")
if (kind == "cox") {
  ll <- as.numeric(strsplit(sub('.*"loglik": *\\[([^]]*)\\].*', "\\1", js), ",")[[1]])
  stat <- max(rel(ll, fit$loglik))
} else {
  stat <- max(rel(c(num("deviance"), num("null_deviance"), num("aic")),
                  c(fit$deviance, fit$null.deviance, fit$aic)))
  # under separation the residual deviance tends to 0: compare it absolutely
  if (sep_r) stat <- max(rel(num("null_deviance"), fit$null.deviance), abs(num("deviance") - fit$deviance) / 1e3)
}
cat(sprintf("%s %s: %d coefficients (%d compared), max rel diff coef/se %.3g, loglik/deviance %.3g, iterations fedra %g R %d%s\n",
  kind, rhs, length(cf), sum(ok), worst, stat, iter_f, iter_r,
  if (length(warns)) paste0("; R warned: ", paste(unique(warns), collapse = "; ")) else ""))
# A fit that ran out of iterations (both warned, checked above) stops on its way to
# infinity, after as many step halvings in fedra as in R: its last log-likelihood
# follows rounding more than a converged one does, so it is compared to 1e-9.
stat_tol <- if (any(grepl("Ran out of iterations", warns))) 1e-9 else min(1e-9, tol)
# A glm that needs more than 10 IRLS steps (R's usual 4-7) is nearly separated without
# R's warning: its coefficients are large and ill-determined, and fedra's normal
# equations keep fewer digits of them than R's QR (1e-8 relative on seed 6 of
# 66-models15, the same iterations and deviance to 1e-15).  Compared to 1e-7 then; the
# gap is issue 15's open point on glm precision.
if (kind == "glm" && iter_r > 10) tol <- max(tol, 1e-7)
quit(status = if (worst <= tol && stat <= stat_tol && iter_f == iter_r) 0 else 1)
