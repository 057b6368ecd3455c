/*
 * fedra-cert - the federation admin's certificate tool (see interface.md).
 *
 *   fedra-cert init    --ca DIR [--name CN] [--days N] [--parent ROOTDIR]
 *   fedra-cert issue   --ca DIR --role node|analyst|hub --name NAME --out DIR [--days N]
 *                      [--start T] [--key FILE]
 *   fedra-cert revoke  --ca DIR (--name NAME | --serial HEX) [--reason R]
 *   fedra-cert crl     --ca DIR --out FILE [--days N]
 *   fedra-cert inspect FILE
 *   fedra-cert verify  --ca-cert FILE [--crl FILE] [--role R] CERT
 *
 * A thin shell over ca.h and pki.h: parse, call, print one line.  Exit 0 on
 * success, 1 on failure, 2 on a usage error.  The commands, their help and
 * their dispatch come from one table (lib/cli.h) at the end.
 */
#include "certs/ca.h"
#include "certs/pki.h"
#include "certs/pki_int.h"
#include "lib/cli.h"
#include "lib/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fedra-cert %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see fedra-cert %s --help\n", cmd);
    return EXIT_USAGE;
}

static int
fail(const char *cmd, const char *msg)
{
    fprintf(stderr, "fedra-cert %s: %s\n", cmd, msg);
    return EXIT_FAIL;
}

/* getopt's complaint in our words (opterr is off). */
static int
bad_option(const char *cmd, int argc, char **argv)
{
    const char *opt = (optind >= 1 && optind - 1 < argc) ? argv[optind - 1] : "?";
    if (optopt != 0)
        return usage_error(cmd, "option '%s' needs a value", opt);
    return usage_error(cmd, "unknown option '%s'", opt);
}

static int
parse_days(const char *cmd, const char *s, int *out)
{
    long long v;
    if (util_parse_int(s, 1, CA_MAX_DAYS, &v) != 0) {
        fprintf(stderr, "fedra-cert %s: invalid --days '%s': give a whole number of days "
            "from 1 to %d\n", cmd, s, CA_MAX_DAYS);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC; rejects impossible dates. */
static int
parse_start(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n != 10 && n != 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (n == 20 && (s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se) || s[19] != 'Z'))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
        .tm_hour = h, .tm_min = mi, .tm_sec = se };
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
        back.tm_mon != mo - 1)
        return -1;                  /* 2021-02-30 and the like */
    *out = (int64_t)t;
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca", required_argument, NULL, 'c' },
        { "name", required_argument, NULL, 'n' },
        { "days", required_argument, NULL, 'd' },
        { "parent", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *cn = CA_DEFAULT_CN, *parent = NULL;
    int days = CA_DEFAULT_CA_DAYS, ch, days_given = 0;
    char err[FEDRA_ERRLEN], serial[CA_SERIAL_LEN];
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': dir = optarg; break;
        case 'n': cn = optarg; break;
        case 'p': parent = optarg; break;
        case 'd':
            if (parse_days("init", optarg, &days) != 0)
                return EXIT_USAGE;
            days_given = 1;
            break;
        default: return bad_option("init", argc, argv);
        }
    }
    if (optind < argc)
        return usage_error("init", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return usage_error("init", "missing --ca DIR");
    if (!ca_cn_valid(cn)) {
        fprintf(stderr, "fedra-cert init: invalid --name '%s': use 1 to %d letters, digits, "
            "spaces, '.', '_' or '-'\n", cn, CA_MAX_CN);
        return EXIT_USAGE;
    }
    if (parent != NULL) {
        struct ca *root = NULL;
        if (ca_open(parent, &root, err) != 0)
            return fail("init", err);
        if (!days_given) {
            /* Default: 5 years, or whole days up to the root's end if that is sooner. */
            int64_t left = pki_asn1_time_unix(X509_get0_notAfter(ca_cert(root))) -
                util_now_ms() / 1000;
            days = CA_DEFAULT_ISSUING_DAYS;
            if (left / 86400 < days)
                days = left / 86400 >= 1 ? (int)(left / 86400) : 1;
        }
        int rc = ca_init_issuing(dir, cn, days, root, 0, serial, err);
        ca_free(root);
        if (rc != 0)
            return fail("init", err);
        printf("created issuing CA '%s' (serial %s) in %s under the root in %s: certificate "
            "%s/ca.crt, private key %s/ca.key (mode 0600; keep it safe); nodes keep trusting "
            "%s/ca.crt\n", cn, serial, dir, parent, dir, dir, parent);
        return 0;
    }
    if (ca_init(dir, cn, days, 0, err) != 0)
        return fail("init", err);
    printf("created CA '%s' in %s: certificate %s/ca.crt, private key %s/ca.key "
        "(mode 0600; keep it safe)\n", cn, dir, dir, dir);
    return 0;
}

static int
cmd_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca", required_argument, NULL, 'c' },
        { "role", required_argument, NULL, 'r' },
        { "name", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },
        { "days", required_argument, NULL, 'd' },
        { "start", required_argument, NULL, 's' },
        { "key", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    struct ca_issue_req req = { .days = CA_DEFAULT_LEAF_DAYS };
    const char *dir = NULL, *role = NULL, *keyfile = NULL;
    struct pki_key *key = NULL;
    char err[FEDRA_ERRLEN], serial[CA_SERIAL_LEN], ts[PKI_TIME_LEN];
    struct ca *ca = NULL;
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': dir = optarg; break;
        case 'r': role = optarg; break;
        case 'n': req.name = optarg; break;
        case 'o': req.out_dir = optarg; break;
        case 'k': keyfile = optarg; break;
        case 'd':
            if (parse_days("issue", optarg, &req.days) != 0)
                return EXIT_USAGE;
            break;
        case 's':
            if (parse_start(optarg, &req.start) != 0)
                return usage_error("issue", "invalid --start '%s': use YYYY-MM-DD or "
                    "YYYY-MM-DDTHH:MM:SSZ (UTC)", optarg);
            break;
        default: return bad_option("issue", argc, argv);
        }
    }
    if (optind < argc)
        return usage_error("issue", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || role == NULL || req.name == NULL || req.out_dir == NULL)
        return usage_error("issue", "missing %s", dir == NULL ? "--ca DIR" :
            role == NULL ? "--role node|analyst|hub" : req.name == NULL ? "--name NAME" :
            "--out DIR");
    req.role = pki_role_parse(role);
    if (req.role == PKI_ROLE_NONE)
        return usage_error("issue", "invalid --role '%s': use node, analyst or hub", role);
    if (!pki_name_valid(req.name)) {
        fprintf(stderr, "fedra-cert issue: invalid --name '%s': use 1 to %d letters, "
            "digits, '.', '_' or '-'\n", req.name, PKI_MAX_NAME);
        return EXIT_USAGE;
    }
    if (mkdir(req.out_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, sizeof err, "cannot create output directory '%s': %s", req.out_dir,
            strerror(errno));
        return fail("issue", err);
    }
    if (keyfile != NULL && pki_key_load(keyfile, &key, err) != 0)
        return fail("issue", err);
    req.key = key;
    if (ca_open(dir, &ca, err) != 0) {
        pki_key_free(key);
        return fail("issue", err);
    }
    rc = ca_issue(ca, &req, serial, err);
    pki_key_free(key);
    if (rc != 0) {
        ca_free(ca);
        return fail("issue", err);
    }
    int64_t na = (req.start ? req.start : util_now_ms() / 1000) +
        (int64_t)req.days * 86400;
    pki_format_time(na, ts);
    if (keyfile != NULL)
        printf("issued %s certificate '%s' (serial %s) valid until %s for the key %s: "
            "%s/%s.crt\n", pki_role_name(req.role), req.name, serial, ts, keyfile,
            req.out_dir, req.name);
    else
        printf("issued %s certificate '%s' (serial %s) valid until %s: %s/%s.crt, "
            "key %s/%s.key (mode 0600)\n", pki_role_name(req.role), req.name, serial, ts,
            req.out_dir, req.name, req.out_dir, req.name);
    ca_free(ca);
    return 0;
}

static int
cmd_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca", required_argument, NULL, 'c' },
        { "name", required_argument, NULL, 'n' },
        { "serial", required_argument, NULL, 's' },
        { "reason", required_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *name = NULL, *serial = NULL, *reason = NULL;
    char err[FEDRA_ERRLEN];
    struct ca *ca = NULL;
    struct ca_revoked rv;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': dir = optarg; break;
        case 'n': name = optarg; break;
        case 's': serial = optarg; break;
        case 'r': reason = optarg; break;
        default: return bad_option("revoke", argc, argv);
        }
    }
    if (optind < argc)
        return usage_error("revoke", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return usage_error("revoke", "missing --ca DIR");
    if ((name == NULL) == (serial == NULL))
        return usage_error("revoke", "give exactly one of --name NAME or --serial HEX");
    if (reason != NULL && (pki_crl_reason_parse(reason) < 0 || pki_crl_reason_parse(reason) > 5))
        return usage_error("revoke", "unknown --reason '%s': use unspecified, keyCompromise, "
            "CACompromise, affiliationChanged, superseded or cessationOfOperation", reason);
    if (ca_open(dir, &ca, err) != 0)
        return fail("revoke", err);
    if (ca_revoke(ca, name, serial, reason, 0, &rv, err) != 0) {
        ca_free(ca);
        return fail("revoke", err);
    }
    printf("revoked certificate '%s' (serial %s)%s%s; publish it with "
        "fedra-cert crl --ca %s --out FILE\n", rv.cn, rv.serial, reason ? ", reason " : "",
        reason ? reason : "", dir);
    if (rv.others > 0)
        fprintf(stderr, "note: %d other valid certificate%s named '%s' remain%s; revoke "
            "with --serial (see %s/index.txt)\n", rv.others, rv.others > 1 ? "s" : "",
            rv.cn, rv.others > 1 ? "" : "s", dir);
    ca_free(ca);
    return 0;
}

static int
cmd_crl(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'o' },
        { "days", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *out = NULL;
    int days = CA_DEFAULT_CRL_DAYS, ch;
    char err[FEDRA_ERRLEN], ts[PKI_TIME_LEN];
    struct ca *ca = NULL;
    int64_t number;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'd':
            if (parse_days("crl", optarg, &days) != 0)
                return EXIT_USAGE;
            break;
        default: return bad_option("crl", argc, argv);
        }
    }
    if (optind < argc)
        return usage_error("crl", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || out == NULL)
        return usage_error("crl", "missing %s", dir == NULL ? "--ca DIR" : "--out FILE");
    if (ca_open(dir, &ca, err) != 0)
        return fail("crl", err);
    int64_t now = util_now_ms() / 1000;
    if (ca_crl(ca, out, days, now, &number, err) != 0) {
        ca_free(ca);
        return fail("crl", err);
    }
    pki_format_time(now + (int64_t)days * 86400, ts);
    printf("wrote CRL number %lld to %s (next update %s)\n", (long long)number, out, ts);
    ca_free(ca);
    return 0;
}

static int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = { { NULL, 0, NULL, 0 } };
    char err[FEDRA_ERRLEN];
    struct buf out = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
        return bad_option("inspect", argc, argv);
    if (argc - optind != 1)
        return usage_error("inspect", "give exactly one FILE");
    if (ca_describe(argv[optind], &out, err) != 0) {
        buf_release(&out);
        return fail("inspect", err);
    }
    fputs(out.p ? (const char *)out.p : "", stdout);
    buf_release(&out);
    return 0;
}

static int
cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ca-cert", required_argument, NULL, 'a' },
        { "crl", required_argument, NULL, 'l' },
        { "role", required_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    const char *cafile = NULL, *crl = NULL, *role = NULL;
    enum pki_role want = PKI_ROLE_NONE;
    char err[FEDRA_ERRLEN], ts[PKI_TIME_LEN];
    struct pki_trust *t = NULL;
    struct pki_cert *c = NULL;
    int ch, rc = EXIT_FAIL;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': cafile = optarg; break;
        case 'l': crl = optarg; break;
        case 'r': role = optarg; break;
        default: return bad_option("verify", argc, argv);
        }
    }
    if (cafile == NULL)
        return usage_error("verify", "missing --ca-cert FILE");
    if (argc - optind != 1)
        return usage_error("verify", "give exactly one CERT to verify");
    if (role != NULL && (want = pki_role_parse(role)) == PKI_ROLE_NONE)
        return usage_error("verify", "invalid --role '%s': use node, analyst or hub", role);
    if (pki_trust_load(cafile, crl, crl != NULL, &t, err) != 0 ||
        pki_cert_load(argv[optind], &c, err) != 0) {
        rc = fail("verify", err);
        goto done;
    }
    if (pki_verify(t, c, want, 0, err) != PKI_OK) {
        rc = fail("verify", err);
        goto done;
    }
    pki_format_time(pki_cert_not_after(c), ts);
    printf("OK: certificate '%s' (role %s) valid until %s\n", pki_cert_name(c),
        pki_role_name(pki_cert_role(c)), ts);
    if (pki_cert_chain_count(c) > 0)
        fprintf(stderr, "note: verified through %zu issuing CA certificate%s carried in %s\n",
            pki_cert_chain_count(c), pki_cert_chain_count(c) > 1 ? "s" : "", argv[optind]);
    if (crl == NULL)
        fprintf(stderr, "note: no --crl given, so revocation was not checked\n");
    rc = 0;
done:
    pki_cert_free(c);
    pki_trust_free(t);
    return rc;
}

/* ---- the command table -------------------------------------------------- */

static const struct cli_command commands[] = {
    {
        .name = "init",
        .args = "--ca DIR [--name CN] [--days N] [--parent ROOTDIR]",
        .summary = "create the federation's root CA, or an issuing CA under it",
        .about =
            "Create the federation CA in DIR (created if missing): an Ed25519 key DIR/ca.key\n"
            "(mode 0600) and a self-signed certificate DIR/ca.crt, plus the files `openssl ca`\n"
            "uses (index.txt, serial, crlnumber, openssl.cnf).  Refuses to overwrite a CA.\n"
            "\n"
            "With --parent, create an issuing CA under the root in ROOTDIR instead: the root\n"
            "signs DIR/ca.crt and records it in ROOTDIR/index.txt, so the root can stay offline\n"
            "and revoke the issuing CA (fedra-cert revoke --ca ROOTDIR --name CN).  Nodes and\n"
            "fedra keep trusting only the root's ca.crt; certificates the issuing CA issues\n"
            "carry the issuing CA's certificate after the leaf in NAME.crt.  Nodes need both\n"
            "CRLs: cat ROOT-crl.pem ISSUING-crl.pem > crl.pem.\n",
        .options =
            "  --ca DIR          directory of the new CA\n"
            "  --name CN         common name of the CA (default \"" CA_DEFAULT_CN "\")\n"
            "  --days N          validity in days (default 3650; for an issuing CA 1825, or\n"
            "                    less so that it does not outlive its root)\n"
            "  --parent ROOTDIR  make an issuing CA certified by the root CA in ROOTDIR\n"
            "  -h, --help        show this help\n",
        .example =
            "  fedra-cert init --ca /srv/fedra/ca --name 'Example federation CA'\n"
            "  fedra-cert init --ca /srv/fedra/issuing --name 'Issuing CA 2026' "
            "--parent /srv/fedra/ca\n",
        .run = cmd_init,
    },
    {
        .name = "issue",
        .args = "--ca DIR --role node|analyst|hub --name NAME --out DIR\n"
            "                        [--days N] [--start YYYY-MM-DD[THH:MM:SSZ]] [--key FILE]",
        .summary = "issue a node, analyst or hub certificate and key (or renew for a key)",
        .about =
            "Issue a certificate with a new Ed25519 key: writes OUT/NAME.key (mode 0600) and\n"
            "OUT/NAME.crt.  The role and the name (subjectAltName urn:fedra:ROLE:NAME) are set\n"
            "by the CA; a node certificate also binds the node's CurveZMQ transport key,\n"
            "derived from NAME.key.  Refuses to overwrite existing files.  Under an issuing CA,\n"
            "NAME.crt holds the certificate followed by the issuing CA's certificate.\n"
            "\n"
            "Renewal: --key FILE certifies that existing key and writes only OUT/NAME.crt.  A\n"
            "node keeps its transport key, so the federation file needs no change; install\n"
            "the new NAME.crt with mv (atomic) and send the node SIGHUP.\n",
        .options =
            "  --ca DIR          directory of the CA\n"
            "  --role R          node, analyst or hub (each binds a transport key)\n"
            "  --name NAME       1 to 64 of A-Z a-z 0-9 . _ -\n"
            "  --out DIR         where to write NAME.key and NAME.crt (created if missing)\n"
            "  --days N          validity in days (default 365)\n"
            "  --start T         notBefore (UTC), default now; a past date back-dates the certificate\n"
            "  --key FILE        re-issue for this existing Ed25519 key (mode 0600)\n"
            "  -h, --help        show this help\n",
        .example =
            "  fedra-cert issue --ca /srv/fedra/ca --role node --name DE --out certs/\n"
            "  fedra-cert issue --ca /srv/fedra/ca --role analyst --name alice --out certs/\n"
            "  fedra-cert issue --ca /srv/fedra/ca --role node --name DE --out renewed/ "
            "--key certs/DE.key\n",
        .run = cmd_issue,
    },
    {
        .name = "revoke",
        .args = "--ca DIR (--name NAME | --serial HEX) [--reason R]",
        .summary = "record the revocation of a certificate (publish it with crl)",
        .about =
            "Record a revocation in DIR/index.txt; publish it with `fedra-cert crl`.\n"
            "--name revokes the newest valid certificate with that name; on a root, the name\n"
            "of an issuing CA revokes the issuing CA (and so everything it issued).\n",
        .options =
            "  --ca DIR       directory of the CA\n"
            "  --name NAME    name of the certificate holder or of an issuing CA\n"
            "  --serial HEX   serial number (as `fedra-cert inspect` shows it)\n"
            "  --reason R     unspecified, keyCompromise, CACompromise, affiliationChanged,\n"
            "                 superseded or cessationOfOperation\n"
            "  -h, --help     show this help\n",
        .example =
            "  fedra-cert revoke --ca /srv/fedra/ca --name alice --reason keyCompromise\n"
            "  fedra-cert crl --ca /srv/fedra/ca --out crl.pem\n",
        .run = cmd_revoke,
    },
    {
        .name = "crl",
        .args = "--ca DIR --out FILE [--days N]",
        .summary = "write a signed CRL with the next CRL number",
        .about =
            "Write a CRL (PEM) signed by the CA, listing every revoked certificate, with the\n"
            "next CRL number (DIR/crlnumber, shared with `openssl ca -gencrl`).  An issuing\n"
            "CA's CRL is followed by its certificate, so nodes that trust only the root can\n"
            "check who signed it.\n",
        .options =
            "  --ca DIR     directory of the CA\n"
            "  --out FILE   the CRL to write (replaced atomically)\n"
            "  --days N     days until nextUpdate (default 7); nodes refuse an expired CRL\n"
            "  -h, --help   show this help\n",
        .example =
            "  fedra-cert crl --ca /srv/fedra/ca --out /srv/www/fedra/crl.pem --days 7\n",
        .run = cmd_crl,
    },
    {
        .name = "inspect",
        .args = "FILE",
        .summary = "describe a certificate or a CRL",
        .about =
            "Describe a certificate (subject, issuer, role, name, serial, validity, SHA-256\n"
            "fingerprint, CurveZMQ key of a node) or a CRL (issuer, number, updates, revoked\n"
            "serials).  PEM or DER.\n",
        .options =
            "  -h, --help   show this help\n",
        .example =
            "  fedra-cert inspect certs/DE.crt\n"
            "  fedra-cert inspect crl.pem\n",
        .run = cmd_inspect,
    },
    {
        .name = "verify",
        .args = "--ca-cert FILE [--crl FILE] [--role node|analyst|hub] CERT",
        .summary = "check a certificate against the CA, its CRL and a role",
        .about =
            "Check CERT against the federation CA: chain, validity, revocation (with --crl,\n"
            "which must be current) and role.  Exit 0 and print one OK line if valid;\n"
            "otherwise exit 1 and say why in one line: which certificate (name and serial),\n"
            "and expired at, not valid before, revoked at (with the reason), wrong role,\n"
            "unknown CA, bad signature, or CRL missing or expired (its nextUpdate).\n"
            "CERT may hold the leaf followed by its issuing CA (as fedra-cert issue writes\n"
            "it); the result agrees with\n"
            "  openssl verify -x509_strict -crl_check_all -CAfile ROOT -untrusted CERT "
            "-CRLfile CRL CERT\n",
        .options =
            "  --ca-cert FILE   the federation (root) CA certificate (ca.crt)\n"
            "  --crl FILE       the current CRL(s) (PEM or DER); with an issuing CA, the root's\n"
            "                   and the issuing CA's CRLs in one file (cat); without --crl,\n"
            "                   revocation is not checked\n"
            "  --role R         require this role (node, analyst or hub)\n"
            "  -h, --help       show this help\n",
        .example =
            "  fedra-cert verify --ca-cert /srv/fedra/ca/ca.crt --crl crl.pem --role node "
            "certs/DE.crt\n",
        .run = cmd_verify,
    },
};

static const struct cli_program program = {
    .name = "fedra-cert",
    .about = "The federation's certificate authority, for the IT admin.\n",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
};

int
main(int argc, char **argv)
{
    opterr = 0;                     /* bad_option says it in our words */
    return cli_main(&program, argc, argv);
}
