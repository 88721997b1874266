/* The httpa command: a curl-like HTTPA/2 client. It sets up verification
 * (the simulated TEE only when explicitly allowed, DCAP with collateral, an
 * appraisal policy), the request body and secrets, runs one request through
 * httpa_curl_request and maps the outcome to an exit status. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "cli.h"
#include "httpa/eat.h"

typedef struct cli_run {
    cli_opts o;
    FILE *out, *err;
    httpa_policy *policy;
    httpa_sim_verifier sim;
    httpa_dcap_trust *trust;
    httpa_dcap_collateral *cols[CLI_MAX_COLLATERAL];
    size_t ncols;
    httpa_dcap_verifier dcap;
    httpa_eat_keyset ta_keys;             /* --ta-key */
    httpa_eat_verifier eat;               /* stapled results */
    httpa_ta_verifier ta;                 /* --ta: background check */
    httpa_verifier verifier;              /* tries each of `chain` */
    httpa_verifier *chain[3];
    size_t nchain;
    const char *secret_names[CLI_MAX_SECRETS];
    char name_store[CLI_MAX_SECRETS][64];
    httpa_buf secret_bufs[CLI_MAX_SECRETS]; /* sensitive */
    httpa_span secret_values[CLI_MAX_SECRETS];
    size_t nsecrets;
    FILE *body;
    bool body_stdin;
    uint64_t body_len;
    cli_sink sink;
} cli_run;

static bool complain(cli_run *r, const char *what, const char *arg, const char *why)
{
    fprintf(r->err, "httpa: %s%s%s%s%s\n", what, arg ? " " : "", arg ? arg : "", why ? ": " : "",
            why ? why : "");
    return false;
}

/* A whole small file (keys, secrets). */
static bool read_small(cli_run *r, const char *path, size_t max, httpa_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return complain(r, "cannot read", path, strerror(errno));
    uint8_t chunk[4096];
    size_t k;
    bool ok = true;
    while (ok && (k = fread(chunk, 1, sizeof(chunk), f)) != 0)
        ok = httpa_buf_append(out, chunk, k) == HTTPA_OK;
    ok = ok && !ferror(f);
    fclose(f);
    httpa_wipe(chunk, sizeof(chunk));
    return ok || complain(r, "cannot read", path, max ? "too large" : NULL);
}

/* ---- verification ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex32(const char *s, size_t n, uint8_t out[32])
{
    while (n != 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    if (n != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* --sim-key HEX, or @FILE with 64 hex digits or the 32 raw octets. */
static bool load_sim_key(cli_run *r, uint8_t key[32])
{
    const char *k = r->o.sim_key;
    if (k[0] != '@')
        return hex32(k, strlen(k), key) ||
               complain(r, "--sim-key wants 64 hex digits or @FILE", NULL, NULL);
    httpa_buf b;
    httpa_buf_init(&b, 1024);
    bool ok = read_small(r, k + 1, 1024, &b);
    if (ok && b.len == 32)
        memcpy(key, b.base, 32);
    else if (ok)
        ok = hex32((const char *)b.base, b.len, key) ||
             complain(r, "--sim-key file holds neither 32 octets nor 64 hex digits", k + 1, NULL);
    httpa_buf_free(&b);
    return ok;
}

static bool load_policy(cli_run *r)
{
    char msg[256] = "";
    httpa_err e = r->o.policy ? httpa_policy_load(r->o.policy, &r->policy, msg, sizeof(msg))
                              : httpa_policy_new_default(r->o.allow_sim, &r->policy);
    return e == HTTPA_OK ||
           complain(r, "bad policy", r->o.policy, msg[0] ? msg : httpa_strerror(e));
}

static bool load_dcap(cli_run *r)
{
    if (r->o.ncollateral == 0)
        return true;
    if (httpa_dcap_trust_new_intel(&r->trust) != HTTPA_OK)
        return complain(r, "cannot load the Intel SGX Root CA", NULL, NULL);
    for (size_t i = 0; i < r->o.ncollateral; i++) {
        httpa_dcap_diag d = {0};
        if (httpa_dcap_collateral_load(r->o.collateral[i], &r->cols[i], &d) != HTTPA_OK)
            return complain(r, "bad collateral", r->o.collateral[i],
                            d.detail[0] ? d.detail : httpa_dcap_reason_text(d.reason));
        r->ncols++;
    }
    httpa_dcap_verifier_init(&r->dcap, r->trust,
                             (const httpa_dcap_collateral *const *)r->cols, r->ncols, r->policy);
    r->chain[r->nchain++] = &r->dcap.base;
    return true;
}

/* The first verifier that knows the evidence decides; with none, nothing
 * verifies and the handshake fails closed. */
static httpa_err chain_appraise(httpa_verifier *self, const char *tee, const char *format,
                                httpa_span ev, int64_t now, httpa_appraisal *out)
{
    cli_run *r = (cli_run *)((char *)self - offsetof(cli_run, verifier));
    for (size_t i = 0; i < r->nchain; i++) {
        httpa_err e = r->chain[i]->appraise(r->chain[i], tee, format, ev, now, out);
        if (e != HTTPA_ERR_UNSUPPORTED)
            return e;
    }
    return HTTPA_ERR_UNSUPPORTED;
}

/* The appraisal policy for simulated evidence (the DCAP verifier applies
 * the same policy to sgx and tdx itself); any other TEE fails closed. */
static httpa_err policy_hook(void *arg, const char *tee, const char *format, httpa_span ev,
                             const httpa_appraisal *a, int64_t now, char *why, size_t n)
{
    cli_run *r = arg;
    httpa_sim_evidence se;
    httpa_policy_verdict v = {0};
    /* the token verifiers applied the policy to the token's claims */
    if (strcmp(tee, "sgx") == 0 || strcmp(tee, "tdx") == 0 || strcmp(format, "eat") == 0)
        return HTTPA_OK;
    if (strcmp(tee, "sim") != 0 || httpa_sim_evidence_parse(ev, &se) != HTTPA_OK) {
        snprintf(why, n, "no policy evaluation for TEE %s", tee);
        return HTTPA_ERR_POLICY_VIOLATION;
    }
    httpa_claims c = {.tee = HTTPA_POLICY_SIM, .simulated = true, .debug = a->debug};
    memcpy(c.sim.measurement, se.measurement, sizeof(c.sim.measurement));
    c.sim.svn = se.svn;
    httpa_err e = httpa_policy_evaluate(r->policy, &c, now, &v);
    if (e != HTTPA_OK)
        snprintf(why, n, "%s: %s", httpa_policy_reason_name(v.reason),
                 v.detail[0] ? v.detail : httpa_policy_reason_text(v.reason));
    return e;
}

static void on_ta_reject(void *arg, const char *tee, httpa_err e, const char *why)
{
    cli_run *r = arg;
    fprintf(r->err, "httpa: Trusted Authority check of %s evidence failed (%s): %s\n", tee,
            httpa_err_name(e), why);
}

/* --ta-key: stapled results; with --ta also the background check, which
 * then sees the raw entries before any local verifier. */
static bool load_ta(cli_run *r)
{
    char msg[256] = "";
    if (r->o.ta_key == NULL)
        return true;
    httpa_eat_keyset_init(&r->ta_keys);
    if (httpa_eat_keyset_load(&r->ta_keys, r->o.ta_key, msg, sizeof(msg)) != HTTPA_OK)
        return complain(r, "bad --ta-key", r->o.ta_key, msg);
    if (r->o.ta_url == NULL) {
        httpa_eat_verifier_init(&r->eat, &r->ta_keys, r->policy);
        r->chain[r->nchain++] = &r->eat.base;
        return true;
    }
    httpa_ta_client_config tc = {.url = r->o.ta_url, .cafile = r->o.cacert,
                                 .insecure = r->o.insecure,
                                 .timeout_ms = r->o.connect_timeout_ms};
    httpa_ta_verifier_init(&r->ta, &tc, &r->ta_keys, r->policy);
    r->ta.on_reject = on_ta_reject;
    r->ta.on_reject_arg = r;
    r->chain[r->nchain++] = &r->ta.base;
    return true;
}

static bool setup_verification(cli_run *r)
{
    r->verifier.appraise = chain_appraise;
    if (!load_policy(r) || !load_ta(r))
        return false;
    if (r->o.allow_sim && r->o.sim_key != NULL) {
        uint8_t key[32];
        if (!load_sim_key(r, key))
            return false;
        httpa_sim_verifier_init(&r->sim, key);
        r->sim.allow_debug = true; /* the policy judges debug, like for any TEE */
        r->chain[r->nchain++] = &r->sim.base;
    }
    if (r->o.allow_sim)
        fprintf(r->err, "httpa: WARNING: --allow-sim: SIMULATED TEE evidence will be accepted; "
                        "it proves NOTHING about hardware. Development only.\n");
    return load_dcap(r);
}

/* ---- request body and secrets ---- */

static httpa_err file_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    cli_run *r = arg;
    *got = fread(buf, 1, cap, r->body);
    return ferror(r->body) ? HTTPA_ERR_IO : HTTPA_OK;
}

static httpa_err file_rewind(void *arg)
{
    cli_run *r = arg;
    return fseek(r->body, 0, SEEK_SET) == 0 ? HTTPA_OK : HTTPA_ERR_IO;
}

static bool open_body(cli_run *r)
{
    struct stat st;
    const char *p = r->o.body_file;
    if (p == NULL)
        return true;
    r->body_stdin = strcmp(p, "-") == 0;
    r->body = r->body_stdin ? stdin : fopen(p, "rb");
    if (r->body == NULL)
        return complain(r, "cannot read", p, strerror(errno));
    bool regular = fstat(fileno(r->body), &st) == 0 && S_ISREG(st.st_mode);
    r->body_len = regular && !r->body_stdin ? (uint64_t)st.st_size : UINT64_MAX;
    return true;
}

/* --secret NAME=@FILE; values never come from the command line (ps). */
static bool load_secret(cli_run *r, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t i = r->nsecrets;
    if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(r->name_store[0]) ||
        eq[1] != '@')
        return complain(r, "--secret wants NAME=@FILE", arg, NULL);
    memcpy(r->name_store[i], arg, (size_t)(eq - arg));
    r->name_store[i][eq - arg] = '\0';
    httpa_buf_init_sensitive(&r->secret_bufs[i], CLI_SECRET_MAX);
    r->nsecrets++;
    if (!read_small(r, eq + 2, CLI_SECRET_MAX, &r->secret_bufs[i]))
        return false;
    if (r->secret_bufs[i].len == 0)
        return complain(r, "empty secret", eq + 2, NULL);
    r->secret_names[i] = r->name_store[i];
    r->secret_values[i] = httpa_buf_span(&r->secret_bufs[i]);
    return true;
}

static bool load_secrets(cli_run *r)
{
    for (size_t i = 0; i < r->o.nsecrets; i++)
        if (!load_secret(r, r->o.secret_args[i]))
            return false;
    return true;
}

/* ---- the request ---- */

static void on_debug(void *arg, httpa_curl_info kind, const char *line, size_t len)
{
    static const char prefix[] = {'*', '>', '<', 'A'};
    cli_run *r = arg;
    size_t max = 200;
    fprintf(r->err, "%c %.*s%s\n", prefix[kind], (int)(len > max ? max : len), line,
            len > max ? "..." : "");
}

static bool has_header(const cli_opts *o, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < o->nheaders; i++)
        if (httpa_name_eq(o->headers[i], strcspn(o->headers[i], ":"), name, n))
            return true;
    return false;
}

static void fill_request(cli_run *r, httpa_curl_req *q)
{
    cli_opts *o = &r->o;
    bool body = o->have_data || r->body != NULL;
    if (body && !has_header(o, "content-type")) /* as curl does for -d */
        o->headers[o->nheaders++] = "Content-Type: application/x-www-form-urlencoded";
    o->headers[o->nheaders] = NULL;
    o->seal[o->nseal] = NULL;
    *q = (httpa_curl_req){.url = o->url, .method = o->method, .headers = o->headers,
                          .seal = o->seal, .hide_target = o->hide_target,
                          .preflight = o->preflight, .has_body = body,
                          .write = cli_sink_write, .write_arg = &r->sink,
                          .secret_names = r->secret_names, .secret_values = r->secret_values,
                          .nsecrets = r->nsecrets};
    if (o->have_data) {
        q->body = httpa_buf_span(&o->data);
    } else if (r->body != NULL) {
        q->read = file_read;
        q->rewind = r->body_len != UINT64_MAX ? file_rewind : NULL;
        q->read_arg = r;
        q->body_len = r->body_len;
    }
}

static void fill_config(cli_run *r, httpa_curl_config *cfg)
{
    const cli_opts *o = &r->o;
    *cfg = (httpa_curl_config){
        .engine = {.verifier = &r->verifier, .allow_sim = o->allow_sim, .fresh = o->fresh},
        .policy = policy_hook,
        .policy_arg = r,
        .http = o->http2_prior ? HTTPA_CURL_HTTP_2_PRIOR
                : o->http2     ? HTTPA_CURL_HTTP_2_TLS
                               : HTTPA_CURL_HTTP_1_1,
        .cafile = o->cacert,
        .insecure = o->insecure,
        .connect_timeout_ms = o->connect_timeout_ms,
        .timeout_ms = o->max_time_ms,
        .max_attempts = 2,
        .debug = o->verbose ? on_debug : NULL,
        .debug_arg = r,
    };
}

static void report(cli_run *r, const httpa_curl_resp *resp, int code)
{
    const httpa_curl_attestation *a = &resp->attestation;
    if (resp->err == HTTPA_OK && a->appraisal.simulated)
        fprintf(r->err, "httpa: WARNING: the server's TEE is SIMULATED: its evidence proves "
                        "NOTHING about hardware.\n");
    if (resp->err == HTTPA_OK && code == HTTPA_CLI_EXIT_HTTP)
        fprintf(r->err, "httpa: the server answered %d (authenticated)\n", resp->status);
    cli_report_attest_error(resp, &r->sink, r->err);
    if (resp->err == HTTPA_OK)
        return;
    const char *tok = httpa_err_token(resp->err);
    fprintf(r->err, "httpa: %s (%s error): %s\n", tok ? tok : httpa_err_name(resp->err),
            httpa_curl_class_name(resp->cls), resp->message);
    if (resp->err == HTTPA_ERR_BAD_QUOTE && strstr(resp->message, "SIMULATED") != NULL)
        fprintf(r->err, "httpa: to talk to a simulated TEE during development only, add "
                        "--allow-sim --sim-key KEY\n");
    else if (resp->err == HTTPA_ERR_BAD_QUOTE && r->nchain == 0)
        fprintf(r->err, "httpa: no verifier is configured: give --collateral for sgx/tdx "
                        "quotes, or a Trusted Authority (--ta, --ta-key)\n");
    if (resp->delivered)
        fprintf(r->err, "httpa: %llu verified octets arrived before the failure; %s\n",
                (unsigned long long)resp->body_octets,
                r->o.no_buffer ? "they were written (--no-buffer)" : "nothing was written");
}

static int perform(cli_run *r)
{
    httpa_curl_config cfg;
    httpa_curl_req q;
    httpa_curl_resp resp;
    httpa_curl_client *c = NULL;
    fill_config(r, &cfg);
    fill_request(r, &q);
    httpa_curl_resp_init(&resp);
    if (httpa_curl_client_new(&cfg, &c) != HTTPA_OK) {
        (void)cli_sink_close(&r->sink, false, false, r->err);
        complain(r, "cannot create the client", NULL, NULL);
        return HTTPA_CLI_EXIT_USAGE;
    }
    if (httpa_curl_request(c, &q, &resp) != HTTPA_OK && r->o.verbose)
        fprintf(r->err, "* request failed: %s\n", httpa_err_name(resp.err));
    int code = cli_exit_code(&r->o, &resp);
    report(r, &resp, code);
    if (r->o.json)
        cli_json(&r->o, &resp, code, &r->sink, r->out);
    bool keep = code == HTTPA_CLI_EXIT_OK;
    if (!cli_sink_close(&r->sink, keep, !r->o.json, r->err) && code == HTTPA_CLI_EXIT_OK)
        code = HTTPA_CLI_EXIT_USAGE;
    if (r->o.verbose)
        fprintf(r->err, "* exit status %d\n", code);
    httpa_curl_resp_free(&resp);
    httpa_curl_client_free(c);
    return code;
}

static int run(cli_run *r)
{
    if (!setup_verification(r) || !load_secrets(r) || !open_body(r) ||
        !cli_sink_open(&r->sink, &r->o, r->out, r->err))
        return HTTPA_CLI_EXIT_USAGE;
    return perform(r);
}

static void cleanup(cli_run *r)
{
    for (size_t i = 0; i < r->nsecrets; i++)
        httpa_buf_free(&r->secret_bufs[i]);
    if (r->body != NULL && !r->body_stdin)
        fclose(r->body);
    for (size_t i = 0; i < r->ncols; i++)
        httpa_dcap_collateral_free(r->cols[i]);
    httpa_dcap_trust_free(r->trust);
    httpa_policy_free(r->policy);
    cli_opts_free(&r->o);
    httpa_wipe(r, sizeof(*r));
}

int httpa_curl_main(int argc, char **argv, FILE *out, FILE *err)
{
    char msg[256];
    int code;
    cli_run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return HTTPA_CLI_EXIT_USAGE;
    r->out = out;
    r->err = err;
    if (!cli_parse(&r->o, argc, argv, msg, sizeof(msg))) {
        fprintf(err, "httpa: %s\nTry 'httpa --help'.\n", msg);
        code = HTTPA_CLI_EXIT_USAGE;
    } else if (r->o.help) {
        cli_help(out);
        code = HTTPA_CLI_EXIT_OK;
    } else if (r->o.version) {
        fprintf(out, "httpa 0.1.0 (HTTPA/2, wire profile revision 2) %s\n", curl_version());
        code = HTTPA_CLI_EXIT_OK;
    } else {
        code = run(r);
    }
    cleanup(r);
    free(r);
    return code;
}
