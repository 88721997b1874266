/* httpa-verify: verify one DCAP (or simulated) quote with its collateral at
 * a given time, apply a policy, and print what was found.
 *
 * The result is built once as a JSON object (member names as in
 * shared/vectors/dcap/expected.json) and printed either as JSON or as
 * "name: value" lines, so the two outputs cannot disagree. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcap_int.h"
#include "httpa/sim.h"
#include "httpa/verify_cli.h"

#define QUOTE_FILE_MAX (1024 * 1024)
#define SIM_MAGIC "httpa2-sim-quote"

typedef struct cli_opts {
    const char *quote, *collateral, *policy, *sim_key;
    int64_t at;
    bool have_at, json, allow_sim, help;
} cli_opts;

static const char HELP[] =
    "NAME\n"
    "    httpa-verify - verify an Intel SGX/TDX DCAP quote and apply an appraisal policy\n"
    "\n"
    "SYNOPSIS\n"
    "    httpa-verify --quote FILE --collateral FILE [--at UNIX_SECONDS] [--policy FILE]\n"
    "                 [--json]\n"
    "    httpa-verify --quote FILE --sim-key HEX --allow-sim [--policy FILE] [--json]\n"
    "    httpa-verify --help\n"
    "\n"
    "DESCRIPTION\n"
    "    Verifies a DCAP ECDSA quote (SGX v3/v4/v5, TDX v4/v5) the way a HTTPA/2 client\n"
    "    does: the PCK certificate chain up to the Intel SGX Root CA built into httpa\n"
    "    (a root in the quote or collateral is never trusted), both CRLs, the TCB info\n"
    "    and QE identity signatures, the QE report, the quote signature, the QE\n"
    "    identity and the TCB level, all at the given time. It prints the TEE type,\n"
    "    the measurements, report_data, the TCB status, the advisory IDs and the\n"
    "    policy verdict. Every rejection names its reason.\n"
    "\n"
    "    Simulated evidence (profile section 7.6) proves nothing about hardware; it is\n"
    "    verified only with --allow-sim and the simulated attestation public key, and\n"
    "    accepting it prints a warning on standard error.\n"
    "\n"
    "OPTIONS\n"
    "    --quote FILE         the binary quote (or 184-octet sim evidence)\n"
    "    --collateral FILE    the JSON collateral (PCK CRL and issuer chain, root CA CRL,\n"
    "                         TCB info, QE identity; format of shared/vectors/dcap)\n"
    "    --at UNIX_SECONDS    verification time (default: now); collateral, CRLs and\n"
    "                         certificates must all be valid at that time\n"
    "    --policy FILE        JSON appraisal policy (docs/examples/policy-sgx.json);\n"
    "                         default: SGX or TDX, any measurement, UpToDate only, no\n"
    "                         advisories, no debug, no simulated evidence\n"
    "    --json               print one JSON object instead of text\n"
    "    --sim-key HEX        the simulated attestation Ed25519 public key (64 hex)\n"
    "    --allow-sim          accept simulated evidence (never in production)\n"
    "    -h, --help           print this help\n"
    "\n"
    "EXIT STATUS\n"
    "    0    verified and accepted by the policy\n"
    "    1    rejected by verification (the reason is printed)\n"
    "    2    verified but rejected by the policy\n"
    "    64   usage error\n"
    "\n"
    "EXAMPLES\n"
    "    httpa-verify --quote sgx_quote --collateral sgx_quote_collateral.json \\\n"
    "        --at 1750334171 --policy docs/examples/policy-sgx.json\n"
    "    httpa-verify --quote tdx_quote --collateral tdx_quote_collateral.json \\\n"
    "        --at 1750331763 --json\n"
    "    httpa-verify --quote sim.bin --sim-key 3b6a27bc... --allow-sim \\\n"
    "        --policy docs/examples/policy-sim-dev.json\n";

/* ---- Arguments ---- */

static int usage(FILE *err, const char *what, const char *arg)
{
    fprintf(err, "httpa-verify: %s%s%s\nTry 'httpa-verify --help'.\n", what, arg ? ": " : "",
            arg ? arg : "");
    return HTTPA_VERIFY_EXIT_USAGE;
}

static bool parse_time(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || s[0] == '+' || s[0] == ' ')
        return false;
    *out = (int64_t)v;
    return true;
}

/* Options that take a value: where it goes. */
static const char **value_slot(cli_opts *o, const char *name)
{
    if (strcmp(name, "--quote") == 0)
        return &o->quote;
    if (strcmp(name, "--collateral") == 0)
        return &o->collateral;
    if (strcmp(name, "--policy") == 0)
        return &o->policy;
    if (strcmp(name, "--sim-key") == 0)
        return &o->sim_key;
    return NULL;
}

static int parse_one(int argc, char **argv, int *i, cli_opts *o, FILE *err)
{
    const char *a = argv[*i];
    const char **slot = value_slot(o, a);
    bool is_at = strcmp(a, "--at") == 0;
    if (slot != NULL || is_at) {
        if (*i + 1 >= argc)
            return usage(err, "missing value for", a);
        const char *v = argv[++*i];
        if (is_at && !parse_time(v, &o->at))
            return usage(err, "--at wants non-negative UNIX seconds, not", v);
        if (is_at)
            o->have_at = true;
        else if (*slot != NULL)
            return usage(err, "given twice", a);
        else
            *slot = v;
    } else if (strcmp(a, "--json") == 0) {
        o->json = true;
    } else if (strcmp(a, "--allow-sim") == 0) {
        o->allow_sim = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        o->help = true;
    } else {
        return usage(err, "unknown argument", a);
    }
    return 0;
}

static int parse_args(int argc, char **argv, cli_opts *o, FILE *err)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        int rc = parse_one(argc, argv, &i, o, err);
        if (rc != 0)
            return rc;
    }
    if (!o->help && o->quote == NULL)
        return usage(err, "--quote is required", NULL);
    return 0;
}

/* ---- Output ---- */

static json_t *hexj(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[2 * 128 + 1];
    if (n > 128)
        return json_null();
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = '\0';
    return json_string(buf);
}

static void set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static void set_verdict(json_t *r, const char *verdict, const char *reason, const char *detail)
{
    set(r, "verdict", json_string(verdict));
    set(r, "reason", json_string(reason));
    set(r, "detail", json_string(detail));
}

static void add_sgx(json_t *r, const httpa_dcap_enclave_report *b)
{
    set(r, "cpuSvn", hexj(b->cpusvn, 16));
    set(r, "miscSelect", json_integer(b->miscselect));
    set(r, "reserved1", hexj(b->reserved1, 28));
    set(r, "attributes", hexj(b->attributes, 16));
    set(r, "mrEnclave", hexj(b->mrenclave, 32));
    set(r, "reserved2", hexj(b->reserved2, 32));
    set(r, "mrSigner", hexj(b->mrsigner, 32));
    set(r, "reserved3", hexj(b->reserved3, 96));
    set(r, "isvProdId", json_integer(b->isvprodid));
    set(r, "isvSvn", json_integer(b->isvsvn));
    set(r, "reserved4", hexj(b->reserved4, 60));
    set(r, "reportData", hexj(b->report_data, 64));
}

static void add_td(json_t *r, const httpa_dcap_td_report *b, bool td15)
{
    static const char *const rtmr[4] = {"rtMr0", "rtMr1", "rtMr2", "rtMr3"};
    set(r, "teeTcbSvn", hexj(b->tee_tcb_svn, 16));
    set(r, "mrSeam", hexj(b->mrseam, 48));
    set(r, "mrSignerSeam", hexj(b->mrsignerseam, 48));
    set(r, "seamAttributes", hexj(b->seam_attributes, 8));
    set(r, "tdAttributes", hexj(b->td_attributes, 8));
    set(r, "xfam", hexj(b->xfam, 8));
    set(r, "mrTd", hexj(b->mrtd, 48));
    set(r, "mrConfigId", hexj(b->mrconfigid, 48));
    set(r, "mrOwner", hexj(b->mrowner, 48));
    set(r, "mrOwnerConfig", hexj(b->mrownerconfig, 48));
    for (size_t i = 0; i < 4; i++)
        set(r, rtmr[i], hexj(b->rtmr[i], 48));
    set(r, "reportData", hexj(b->report_data, 64));
    if (td15) {
        set(r, "teeTcbSvn2", hexj(b->tee_tcb_svn2, 16));
        set(r, "mrServiceTd", hexj(b->mrservicetd, 48));
    }
}

static void add_dcap(json_t *r, const httpa_dcap_result *res)
{
    static const char *const tee[] = {"sgx", "td10", "td15"};
    json_t *ids = json_array();
    set(r, "tee", json_string(tee[res->body_kind]));
    set(r, "quote_version", json_integer(res->version));
    set(r, "status", json_string(httpa_dcap_tcb_status_name(res->status)));
    for (size_t i = 0; i < res->nadvisories; i++)
        json_array_append_new(ids, json_string(res->advisory_ids[i]));
    set(r, "advisory_ids", ids);
    set(r, "debug", json_boolean(res->debug));
    set(r, "fmspc", hexj(res->fmspc, 6));
    if (res->body_kind == HTTPA_DCAP_BODY_SGX)
        add_sgx(r, &res->sgx);
    else
        add_td(r, &res->td, res->body_kind == HTTPA_DCAP_BODY_TD15);
}

static void print_value(FILE *out, json_t *v)
{
    size_t i;
    json_t *x = NULL;
    if (json_is_string(v))
        fprintf(out, "%s", json_string_value(v));
    else if (json_is_integer(v))
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        fprintf(out, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            fprintf(out, "%s", i ? ", " : "");
            print_value(out, x);
        }
        if (json_array_size(v) == 0)
            fprintf(out, "(none)");
    }
}

static void print_result(FILE *out, json_t *r, bool as_json)
{
    const char *k = NULL;
    json_t *v = NULL;
    if (as_json) {
        json_dumpf(r, out, JSON_INDENT(1));
        fputc('\n', out);
        return;
    }
    json_object_foreach(r, k, v) {
        if (strncmp(k, "reserved", 8) == 0)
            continue; /* noise in a human-readable report */
        fprintf(out, "%-15s ", k);
        print_value(out, v);
        fputc('\n', out);
    }
}

/* ---- Verification ---- */

static int judge(const httpa_policy *p, const httpa_claims *c, int64_t now, json_t *r)
{
    httpa_policy_verdict pv;
    if (httpa_policy_evaluate(p, c, now, &pv) == HTTPA_OK) {
        set_verdict(r, "accepted", "OK", "");
        return HTTPA_VERIFY_EXIT_ACCEPTED;
    }
    set_verdict(r, "rejected_by_policy", httpa_policy_reason_name(pv.reason), pv.detail);
    return HTTPA_VERIFY_EXIT_POLICY;
}

static int run_dcap(const cli_opts *o, httpa_span quote, const httpa_policy *p, int64_t now,
                    json_t *r)
{
    httpa_dcap_collateral *col = NULL;
    httpa_dcap_trust *trust = NULL;
    httpa_dcap_diag d;
    httpa_dcap_result *res = calloc(1, sizeof(*res));
    int rc = HTTPA_VERIFY_EXIT_REJECTED;
    if (res == NULL || httpa_dcap_trust_new_intel(&trust) != HTTPA_OK) {
        set_verdict(r, "rejected", "INTERNAL", "out of memory or library failure");
    } else if (httpa_dcap_collateral_load(o->collateral, &col, &d) != HTTPA_OK) {
        set_verdict(r, "rejected", httpa_dcap_reason_name(d.reason), d.detail);
    } else if (httpa_dcap_verify(trust, quote, col, now, res) != HTTPA_OK) {
        set_verdict(r, "rejected", httpa_dcap_reason_name(res->diag.reason), res->diag.detail);
    } else {
        httpa_claims c;
        add_dcap(r, res);
        httpa_dcap_result_claims(res, &c);
        rc = judge(p, &c, now, r);
    }
    httpa_dcap_collateral_free(col);
    httpa_dcap_trust_free(trust);
    free(res);
    return rc;
}

static bool is_sim(httpa_span q)
{
    return q.len == HTTPA_SIM_EVIDENCE_LEN && memcmp(q.base, SIM_MAGIC, 16) == 0;
}

static void add_sim(json_t *r, const httpa_sim_evidence *ev)
{
    set(r, "tee", json_string("sim"));
    set(r, "status", json_string("Simulated"));
    set(r, "advisory_ids", json_array());
    set(r, "debug", json_boolean((ev->flags & HTTPA_SIM_FLAG_DEBUG) != 0));
    set(r, "simulated", json_true());
    set(r, "measurement", hexj(ev->measurement, HTTPA_SIM_MEASUREMENT_LEN));
    set(r, "svn", json_integer(ev->svn));
    set(r, "reportData", hexj(ev->report_data, HTTPA_REPORT_DATA_LEN));
}

/* The sim verifier checks signature and format only (everything allowed);
 * the policy engine then judges debug, SVN and measurement like any TEE. */
static int run_sim(const cli_opts *o, httpa_span quote, const httpa_policy *p, int64_t now,
                   json_t *r, FILE *err)
{
    uint8_t key[32];
    httpa_sim_verifier sv;
    httpa_appraisal ap;
    httpa_sim_evidence ev;
    if (!o->allow_sim) {
        set_verdict(r, "rejected", "SIMULATED_NOT_ENABLED",
                    "simulated evidence needs --allow-sim and --sim-key");
        return HTTPA_VERIFY_EXIT_REJECTED;
    }
    if (o->sim_key == NULL || !dcap_hex_decode(o->sim_key, strlen(o->sim_key), key, sizeof(key)))
        return usage(err, "--sim-key wants 64 hex digits (the Ed25519 public key)", o->sim_key);
    httpa_sim_verifier_init(&sv, key);
    sv.allow_debug = true;
    if (sv.base.appraise(&sv.base, "sim", "raw", quote, now, &ap) != HTTPA_OK
        || httpa_sim_evidence_parse(quote, &ev) != HTTPA_OK) {
        set_verdict(r, "rejected", "SIM_EVIDENCE_INVALID",
                    "malformed, unknown flags, or not signed by the given key");
        return HTTPA_VERIFY_EXIT_REJECTED;
    }
    add_sim(r, &ev);
    httpa_claims c = {.tee = HTTPA_POLICY_SIM, .simulated = true, .debug = ap.debug};
    memcpy(c.sim.measurement, ev.measurement, sizeof(c.sim.measurement));
    c.sim.svn = ev.svn;
    int rc = judge(p, &c, now, r);
    if (rc == HTTPA_VERIFY_EXIT_ACCEPTED)
        fprintf(err, "\n*** WARNING: SIMULATED EVIDENCE ACCEPTED. It proves NOTHING about "
                     "hardware: no TEE\n*** protects this workload. Never use --allow-sim in "
                     "production. ***\n\n");
    return rc;
}

static int load_policy(const cli_opts *o, httpa_policy **p, FILE *err)
{
    char msg[256];
    if (o->policy == NULL)
        return httpa_policy_new_default(o->allow_sim, p) == HTTPA_OK ? 0
                                                                      : HTTPA_VERIFY_EXIT_REJECTED;
    if (httpa_policy_load(o->policy, p, msg, sizeof(msg)) != HTTPA_OK) {
        fprintf(err, "httpa-verify: %s\n", msg);
        return HTTPA_VERIFY_EXIT_USAGE;
    }
    return 0;
}

static int run(const cli_opts *o, FILE *out, FILE *err)
{
    httpa_buf q;
    httpa_policy *p = NULL;
    if (dcap_read_file(o->quote, QUOTE_FILE_MAX, &q) != HTTPA_OK)
        return usage(err, "cannot read the quote", o->quote);
    bool sim = is_sim(httpa_buf_span(&q));
    int rc = !sim && o->collateral == NULL ? usage(err, "--collateral is required", NULL) : 0;
    if (rc == 0)
        rc = load_policy(o, &p, err);
    if (rc == 0) {
        json_t *r = json_object();
        int64_t now = o->have_at ? o->at : (int64_t)time(NULL);
        rc = sim ? run_sim(o, httpa_buf_span(&q), p, now, r, err)
                 : run_dcap(o, httpa_buf_span(&q), p, now, r);
        if (rc != HTTPA_VERIFY_EXIT_USAGE)
            print_result(out, r, o->json);
        json_decref(r);
    }
    httpa_policy_free(p);
    httpa_buf_free(&q);
    return rc;
}

int httpa_verify_main(int argc, char **argv, FILE *out, FILE *err)
{
    cli_opts o;
    int rc = parse_args(argc, argv, &o, err);
    if (rc != 0)
        return rc;
    if (o.help) {
        fputs(HELP, out);
        return 0;
    }
    return run(&o, out, err);
}
