/* Options of the httpa command and its manual (--help). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    O_REQUEST, O_HEADER, O_DATA, O_DATA_BINARY, O_OUTPUT, O_VERBOSE, O_SEAL, O_HIDE,
    O_POLICY, O_ALLOW_SIM, O_SIM_KEY, O_SECRET, O_JSON, O_HTTP1, O_HTTP2, O_HTTP2_PRIOR,
    O_CACERT, O_INSECURE, O_PREFLIGHT, O_FRESH, O_FAIL, O_NO_BUFFER, O_CONNECT_TIMEOUT,
    O_MAX_TIME, O_COLLATERAL, O_TA, O_TA_KEY, O_HELP, O_VERSION,
};

typedef struct opt_def {
    const char *name;
    char short_name;
    bool arg;
    int id;
} opt_def;

static const opt_def OPTS[] = {
    {"request", 'X', true, O_REQUEST},         {"header", 'H', true, O_HEADER},
    {"data", 'd', true, O_DATA},               {"data-binary", 0, true, O_DATA_BINARY},
    {"output", 'o', true, O_OUTPUT},           {"verbose", 'v', false, O_VERBOSE},
    {"seal-header", 0, true, O_SEAL},          {"hide-target", 0, false, O_HIDE},
    {"policy", 0, true, O_POLICY},             {"allow-sim", 0, false, O_ALLOW_SIM},
    {"sim-key", 0, true, O_SIM_KEY},           {"secret", 0, true, O_SECRET},
    {"json", 0, false, O_JSON},                {"http1.1", 0, false, O_HTTP1},
    {"http2", 0, false, O_HTTP2},              {"http2-prior-knowledge", 0, false, O_HTTP2_PRIOR},
    {"cacert", 0, true, O_CACERT},             {"insecure", 'k', false, O_INSECURE},
    {"preflight", 0, false, O_PREFLIGHT},      {"fresh", 0, false, O_FRESH},
    {"fail", 'f', false, O_FAIL},              {"no-buffer", 'N', false, O_NO_BUFFER},
    {"connect-timeout", 0, true, O_CONNECT_TIMEOUT},
    {"max-time", 'm', true, O_MAX_TIME},       {"collateral", 0, true, O_COLLATERAL},
    {"ta", 0, true, O_TA},                     {"ta-key", 0, true, O_TA_KEY},
    {"help", 'h', false, O_HELP},              {"version", 'V', false, O_VERSION},
};

#define NOPTS (sizeof(OPTS) / sizeof(OPTS[0]))

static const char HELP[] =
    "NAME\n"
    "    httpa - transfer a URL over HTTPA/2, verifying the server's TEE first\n"
    "\n"
    "SYNOPSIS\n"
    "    httpa [options] URL\n"
    "\n"
    "DESCRIPTION\n"
    "    httpa sends one HTTP request as an HTTPA/2 Trusted Transaction. Before\n"
    "    anything confidential leaves, it runs the Attest Handshake (ATTEST) with the\n"
    "    origin, verifies the server's evidence (the TEE's quote), the signature and\n"
    "    the binder, and applies the appraisal policy. The request body travels in\n"
    "    AEAD records, Authorization and Cookie (and every --seal-header) travel\n"
    "    sealed, and the response is delivered only after its binder verified.\n"
    "\n"
    "    The body goes to standard output (or -o FILE) only once the whole response\n"
    "    verified: after an attestation, decryption or integrity failure nothing is\n"
    "    written. TLS to the next hop is ordinary curl TLS.\n"
    "\n"
    "    There is no default verifier. Real TEE evidence (sgx, tdx) is verified with\n"
    "    --collateral, or by a Trusted Authority (--ta, --ta-key); simulated evidence\n"
    "    only with --allow-sim, and otherwise rejected with exit status 3.\n"
    "\n"
    "OPTIONS\n"
    "    -X, --request METHOD    method (default GET, or POST with a body)\n"
    "    -H, --header 'Name: value'\n"
    "                            add a request field (repeatable)\n"
    "    -d, --data DATA         request body; repeated -d are joined with '&';\n"
    "                            @FILE reads a file as is (@- standard input)\n"
    "        --data-binary DATA|@FILE\n"
    "                            request body, as is\n"
    "    -o, --output FILE       write the body to FILE (replaced only on success)\n"
    "    -N, --no-buffer         write the body as it verifies; a later failure then\n"
    "                            leaves a verified but partial body behind\n"
    "    -v, --verbose           show the exchange: '* ' notes, '> ' sent and '< '\n"
    "                            received header lines (as on the wire), 'A '\n"
    "                            attestation: TEE type, measurement, TCB status,\n"
    "                            report_data, suite, sealed field names and lengths\n"
    "                            (never their values), what travelled in clear\n"
    "        --seal-header NAME  seal this field too (repeatable); authorization and\n"
    "                            cookie are always sealed\n"
    "        --hide-target       send POST /.well-known/httpa outside and seal the\n"
    "                            real method and target\n"
    "        --secret NAME=@FILE provision a secret into the Attest Base (AtSP) after\n"
    "                            verification (repeatable; at most 8192 octets)\n"
    "        --policy FILE       JSON appraisal policy (docs/examples/policy-*.json);\n"
    "                            default: sgx/tdx, UpToDate only, no debug, no\n"
    "                            advisories, simulated only with --allow-sim\n"
    "        --collateral FILE   DCAP collateral for sgx/tdx quotes (repeatable)\n"
    "        --ta-key FILE       Trusted Authority verification keys (JWKS, or a PEM\n"
    "                            public key): stapled results (format=eat entries)\n"
    "                            signed by them are verified and appraised with\n"
    "                            --policy; entries by other authorities are ignored\n"
    "        --ta URL            background check: send the server's raw evidence to\n"
    "                            this Trusted Authority and accept it only with a\n"
    "                            valid result signed by a --ta-key key (required);\n"
    "                            an unreachable TA fails the handshake (exit 3)\n"
    "        --allow-sim         accept SIMULATED TEE evidence (development only)\n"
    "        --sim-key HEX|@FILE the simulated TEE's attestation public key (not needed\n"
    "                            when a Trusted Authority appraises it)\n"
    "        --fresh             require fresh-mode evidence (a quote per handshake)\n"
    "        --preflight         send the CORS Preflight (OPTIONS) before ATTEST\n"
    "        --json              print a JSON summary on standard output: status,\n"
    "                            fields, attestation, suite, Attest-Base-ID, body\n"
    "                            (embedded up to 16 MiB unless -o is given)\n"
    "    -f, --fail              exit 6 on an (authenticated) HTTP status >= 400\n"
    "        --http1.1           HTTP/1.1 only\n"
    "        --http2             HTTP/2 over TLS (ALPN), HTTP/1.1 in clear\n"
    "        --http2-prior-knowledge\n"
    "                            HTTP/2 without upgrade, also in clear\n"
    "        --cacert FILE       CA certificates for TLS to the next hop\n"
    "    -k, --insecure          do not verify the TLS peer (tests only; attestation\n"
    "                            is still verified)\n"
    "        --connect-timeout SECONDS\n"
    "    -m, --max-time SECONDS\n"
    "    -h, --help              this manual\n"
    "    -V, --version\n"
    "\n"
    "EXIT STATUS\n"
    "    0  success; also an authenticated HTTP status >= 400 without --fail\n"
    "       (unless it carries Attest-Error: then 4 or 5, below)\n"
    "    1  usage or local error (bad option, unreadable file, unwritable output)\n"
    "    2  network: connect, TLS, transfer, or an answer of a non-HTTPA hop\n"
    "    3  attestation: bad_quote (evidence, signature, attested key, simulated\n"
    "       evidence not allowed)\n"
    "    4  policy: policy_violation, or the local policy rejected the evidence\n"
    "    5  protocol: bad_ticket, bad_request, replay, tampering, truncation,\n"
    "       negotiation_failed, unknown_base/expired_base not retried, ...;\n"
    "       also an authenticated Attest-Error from the server's TEE (4 when it\n"
    "       is policy_violation)\n"
    "    6  --fail and an authenticated HTTP status >= 400\n"
    "    Codes are never renumbered; new ones may be added.\n"
    "\n"
    "EXAMPLES\n"
    "    httpa --collateral col.json --policy policy-sgx.json https://svc.example/api\n"
    "    httpa -v -H 'Authorization: Bearer t0ken' --seal-header x-tenant \\\n"
    "          -H 'X-Tenant: acme' -d '{\"q\":1}' --hide-target https://svc.example/infer\n"
    "    httpa --secret db-key=@db.key --json https://svc.example/start\n"
    "    httpa --ta https://ta.example:8600 --ta-key ta-jwks.json https://svc.example/api\n"
    "    httpa --allow-sim --sim-key @sim.pub http://127.0.0.1:8443/hello   # development\n";

void cli_help(FILE *out)
{
    fputs(HELP, out);
}

static bool fail(char *msg, size_t n, const char *what, const char *arg)
{
    snprintf(msg, n, "%s%s%s", what, arg ? ": " : "", arg ? arg : "");
    return false;
}

static bool add_to(const char **list, size_t *count, size_t max, const char *v)
{
    if (*count == max)
        return false;
    list[(*count)++] = v;
    return true;
}

static bool parse_seconds(const char *v, long *ms)
{
    char *end;
    double s = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(s > 0) || s > 86400.0 * 365)
        return false;
    *ms = (long)(s * 1000.0);
    return true;
}

/* -d / --data-binary: a literal (joined with '&') or one @FILE. */
static bool add_data(cli_opts *o, const char *v, char *msg, size_t n)
{
    if (v[0] == '@') {
        if (o->body_file != NULL || o->have_data)
            return fail(msg, n, "only one body source is allowed", v);
        o->body_file = v + 1;
        return true;
    }
    if (o->body_file != NULL)
        return fail(msg, n, "only one body source is allowed", v);
    if ((o->have_data && httpa_buf_append_u8(&o->data, '&') != HTTPA_OK) ||
        httpa_buf_append_str(&o->data, v) != HTTPA_OK)
        return fail(msg, n, "request body too large", NULL);
    o->have_data = true;
    return true;
}

static bool apply_flag(cli_opts *o, int id)
{
    switch (id) {
    case O_VERBOSE: o->verbose = true; return true;
    case O_HIDE: o->hide_target = true; return true;
    case O_ALLOW_SIM: o->allow_sim = true; return true;
    case O_JSON: o->json = true; return true;
    case O_HTTP1: o->http1 = true; return true;
    case O_HTTP2: o->http2 = true; return true;
    case O_HTTP2_PRIOR: o->http2_prior = true; return true;
    case O_INSECURE: o->insecure = true; return true;
    case O_PREFLIGHT: o->preflight = true; return true;
    case O_FRESH: o->fresh = true; return true;
    case O_FAIL: o->fail = true; return true;
    case O_NO_BUFFER: o->no_buffer = true; return true;
    case O_HELP: o->help = true; return true;
    case O_VERSION: o->version = true; return true;
    default: return false;
    }
}

static bool apply(cli_opts *o, int id, const char *v, char *msg, size_t n)
{
    switch (id) {
    case O_REQUEST: o->method = v; return true;
    case O_OUTPUT: o->output = v; return true;
    case O_POLICY: o->policy = v; return true;
    case O_SIM_KEY: o->sim_key = v; return true;
    case O_CACERT: o->cacert = v; return true;
    case O_DATA:
    case O_DATA_BINARY: return add_data(o, v, msg, n);
    case O_HEADER:
        return add_to(o->headers, &o->nheaders, CLI_MAX_HEADERS, v) ||
               fail(msg, n, "too many -H", NULL);
    case O_SEAL:
        return add_to(o->seal, &o->nseal, CLI_MAX_SEAL, v) ||
               fail(msg, n, "too many --seal-header", NULL);
    case O_SECRET:
        return add_to(o->secret_args, &o->nsecrets, CLI_MAX_SECRETS, v) ||
               fail(msg, n, "too many --secret", NULL);
    case O_TA: o->ta_url = v; return true;
    case O_TA_KEY: o->ta_key = v; return true;
    case O_COLLATERAL:
        return add_to(o->collateral, &o->ncollateral, CLI_MAX_COLLATERAL, v) ||
               fail(msg, n, "too many --collateral", NULL);
    case O_CONNECT_TIMEOUT:
        return parse_seconds(v, &o->connect_timeout_ms) ||
               fail(msg, n, "bad --connect-timeout", v);
    case O_MAX_TIME:
        return parse_seconds(v, &o->max_time_ms) || fail(msg, n, "bad --max-time", v);
    default:
        return apply_flag(o, id);
    }
}

static const opt_def *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(OPTS[i].name) == len && memcmp(OPTS[i].name, name, len) == 0)
            return &OPTS[i];
    return NULL;
}

static const opt_def *find_short(char c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (OPTS[i].short_name == c)
            return &OPTS[i];
    return NULL;
}

/* "--name", "--name=value" or "--name value". */
static bool parse_long(cli_opts *o, int argc, char **argv, int *i, char *msg, size_t n)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    const opt_def *d = find_long(a, eq ? (size_t)(eq - a) : strlen(a));
    if (d == NULL)
        return fail(msg, n, "unknown option", argv[*i]);
    if (!d->arg)
        return eq == NULL ? apply(o, d->id, NULL, msg, n)
                          : fail(msg, n, "option takes no value", argv[*i]);
    const char *v = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    return v != NULL ? apply(o, d->id, v, msg, n) : fail(msg, n, "option needs a value", a);
}

/* "-kv", "-XPOST", "-X POST". */
static bool parse_short(cli_opts *o, int argc, char **argv, int *i, char *msg, size_t n)
{
    for (const char *p = argv[*i] + 1; *p != '\0'; p++) {
        const opt_def *d = find_short(*p);
        if (d == NULL)
            return fail(msg, n, "unknown option", argv[*i]);
        if (!d->arg) {
            if (!apply(o, d->id, NULL, msg, n))
                return false;
            continue;
        }
        const char *v = p[1] != '\0' ? p + 1 : *i + 1 < argc ? argv[++*i] : NULL;
        return v != NULL ? apply(o, d->id, v, msg, n)
                         : fail(msg, n, "option needs a value", argv[*i]);
    }
    return true;
}

static bool check(const cli_opts *o, char *msg, size_t n)
{
    if (o->help || o->version)
        return true;
    if (o->url == NULL)
        return fail(msg, n, "no URL", NULL);
    if (o->sim_key != NULL && !o->allow_sim)
        return fail(msg, n, "--sim-key is used only with --allow-sim", NULL);
    if (o->allow_sim && o->sim_key == NULL && o->ta_key == NULL)
        return fail(msg, n, "--allow-sim needs --sim-key (the simulated TEE's public key)", NULL);
    if (o->ta_url != NULL && o->ta_key == NULL)
        return fail(msg, n, "--ta needs --ta-key (the Trusted Authority's verification keys)",
                    NULL);
    if (o->http1 + o->http2 + o->http2_prior > 1)
        return fail(msg, n, "choose one of --http1.1, --http2, --http2-prior-knowledge", NULL);
    return true;
}

bool cli_parse(cli_opts *o, int argc, char **argv, char *msg, size_t n)
{
    memset(o, 0, sizeof(*o));
    httpa_buf_init_sensitive(&o->data, 64u << 20); /* may hold credentials */
    bool positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!positional && strcmp(a, "--") == 0)
            positional = true;
        else if (!positional && a[0] == '-' && a[1] == '-')
            ok = parse_long(o, argc, argv, &i, msg, n);
        else if (!positional && a[0] == '-' && a[1] != '\0')
            ok = parse_short(o, argc, argv, &i, msg, n);
        else if (o->url == NULL)
            o->url = a;
        else
            ok = fail(msg, n, "more than one URL", a);
        if (!ok)
            return false;
    }
    return check(o, msg, n);
}

void cli_opts_free(cli_opts *o)
{
    httpa_buf_free(&o->data);
}
