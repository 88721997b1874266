/* httpa-ta: the Trusted Authority as an HTTP service on h2o. It appraises
 * TEE evidence (Intel SGX/TDX DCAP quotes with collateral from a directory
 * or a PCCS; the simulated TEE when explicitly allowed) against a policy and
 * answers with an ES256-signed attestation result (profile 7.7). The HTTP
 * semantics live in the I/O-free core (include/httpa/ta.h); this file only
 * loads the configuration, listens, and translates requests. docs/TA.md is
 * the reference.
 *
 * One event loop; SIGTERM/SIGINT stop it (read through a signalfd: no signal
 * handler, no global state). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <h2o.h>
#pragma GCC diagnostic pop

#include "httpa/dcap.h"
#include "httpa/eat.h"
#include "httpa/pcs.h"
#include "httpa/policy.h"
#include "httpa/ta.h"

#define TA_VERSION "0.1.0"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define KEY_FILE_MAX (64 * 1024)

static const char HELP[] =
    "NAME\n"
    "    httpa-ta - HTTPA/2 Trusted Authority: appraise TEE evidence, sign results\n"
    "\n"
    "SYNOPSIS\n"
    "    httpa-ta --policy FILE [--collateral-dir DIR | --pccs URL] [options]\n"
    "    httpa-ta --policy FILE --allow-sim --sim-key HEX|@FILE [options]   (development)\n"
    "\n"
    "DESCRIPTION\n"
    "    httpa-ta is an attestation verifier service (RFC 9334 'verifier'). It\n"
    "    verifies Intel SGX and TDX DCAP quotes up to the pinned Intel SGX Root CA\n"
    "    with collateral that is fresh at the appraisal time, applies an appraisal\n"
    "    policy, and answers with an attestation result: an ES256 JWT whose claims\n"
    "    are those of the HTTPA/2 profile, section 7.7 (eat_nonce = the evidence's\n"
    "    report_data). Servers staple the token next to their evidence (passport\n"
    "    model); clients send evidence and check the token (background check).\n"
    "\n"
    "    POST /v1/appraise   {\"tee\":\"sgx|tdx|sim\",\"evidence\":\"<base64>\"[,\"nonce\":\"<base64url>\"]}\n"
    "                        200 {\"token\",\"kid\",\"verdict\",\"tcb_status\",\"advisory_ids\",...}\n"
    "    GET  /v1/jwks       the verification keys (current, next, previous)\n"
    "    GET  /healthz       200 {\"status\":\"ok\"}, 503 when collateral is stale\n"
    "    GET  /metrics       Prometheus text\n"
    "    Errors are application/problem+json, type urn:httpa2:ta:error:<name>.\n"
    "\n"
    "OPTIONS\n"
    "    --listen ADDR:PORT      where to listen (default 127.0.0.1:8600; port 0: any;\n"
    "                            [::1]:PORT for IPv6, *:PORT for every address)\n"
    "    --port-file FILE        write the port listened on to FILE\n"
    "    --policy FILE           JSON appraisal policy (docs/examples/policy-*.json);\n"
    "                            REQUIRED: there is no default that accepts evidence\n"
    "    --collateral-dir DIR    load every *_collateral.json in DIR (the format of\n"
    "                            shared/vectors/dcap); kept in memory (warm)\n"
    "    --pccs URL              fetch collateral for unknown platforms from a PCCS\n"
    "                            (or Intel's PCS), v4 API\n"
    "    --pccs-cache DIR        on-disk cache for fetched collateral\n"
    "    --allow-sim             accept SIMULATED TEE evidence (development only;\n"
    "                            the policy must also have allow_simulated)\n"
    "    --sim-key HEX|@FILE     the simulated TEE's attestation public key\n"
    "    --key FILE              first signing key: PEM P-256 private key (default:\n"
    "                            a new random key at every start)\n"
    "    --kid KID               its kid (default: the RFC 7638 thumbprint)\n"
    "    --issuer ISS            the iss claim (default httpa-ta)\n"
    "    --token-ttl SECONDS     result lifetime (default 3600; a hardware result\n"
    "                            never outlives its collateral)\n"
    "    --rotate-seconds S      new signing key every S seconds (default 0: never);\n"
    "                            the next key is published one period ahead and an\n"
    "                            old one until its last token expires; needs\n"
    "                            token-ttl <= 13 * S\n"
    "    --max-body OCTETS       largest appraisal request (default 1048576)\n"
    "    --rate R                requests per second per client address (default 0:\n"
    "                            unlimited); above it: 429 with Retry-After\n"
    "    --burst N               requests a client may send at once (default max(1, R))\n"
    "    --at UNIX               appraise as if the clock read UNIX now (it then runs\n"
    "                            on): for tests with sample collateral only\n"
    "    --access-log FILE       one JSON line per request ('-': standard error);\n"
    "                            never tokens, evidence or keys\n"
    "    -h, --help              this manual\n"
    "    -V, --version\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 usage or configuration\n"
    "\n"
    "EXAMPLES\n"
    "    httpa-ta --policy /etc/httpa/policy-sgx.json --pccs https://pccs.example:8081 \\\n"
    "             --pccs-cache /var/cache/httpa-ta --rotate-seconds 86400 --rate 50\n"
    "    httpa-ta --policy docs/examples/policy-sim-dev.json --allow-sim --sim-key @sim.pub \\\n"
    "             --listen 127.0.0.1:0 --port-file ta.port     # development\n";

typedef struct ta_opts {
    const char *listen, *port_file, *policy, *collateral_dir, *pccs, *pccs_cache;
    const char *sim_key, *key, *kid, *issuer, *access_log;
    bool allow_sim, at_set;
    long long token_ttl, rotate, max_body, at;
    double rate, burst;
} ta_opts;

typedef struct ta_app {
    ta_opts o;
    httpa_policy *policy;
    httpa_dcap_trust *trust;
    httpa_dcap_collateral *cols[HTTPA_TA_MAX_COLLATERALS];
    size_t ncols;
    httpa_pcs *pcs;
    httpa_eat_signer key;
    bool has_key;
    uint8_t sim_key[32];
    httpa_ta *ta;
    int64_t at_offset;
    FILE *log;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    size_t nconns;
    bool stop;
} ta_app;

typedef struct ta_handler {
    h2o_handler_t super;
    ta_app *app;
} ta_handler;

static bool usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "httpa-ta: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'httpa-ta --help'.\n");
    return false;
}

/* ---- options ---- */

static bool parse_ll(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static bool parse_double(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(d >= 0) || d > 1e9)
        return false;
    *out = d;
    return true;
}

enum {
    O_LISTEN = 256, O_PORT_FILE, O_POLICY, O_COLDIR, O_PCCS, O_PCCS_CACHE, O_ALLOW_SIM,
    O_SIM_KEY, O_KEY, O_KID, O_ISSUER, O_TTL, O_ROTATE, O_MAX_BODY, O_RATE, O_BURST, O_AT,
    O_LOG,
};

static const struct option LONG_OPTS[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"port-file", required_argument, NULL, O_PORT_FILE},
    {"policy", required_argument, NULL, O_POLICY},
    {"collateral-dir", required_argument, NULL, O_COLDIR},
    {"pccs", required_argument, NULL, O_PCCS},
    {"pccs-cache", required_argument, NULL, O_PCCS_CACHE},
    {"allow-sim", no_argument, NULL, O_ALLOW_SIM},
    {"sim-key", required_argument, NULL, O_SIM_KEY},
    {"key", required_argument, NULL, O_KEY},
    {"kid", required_argument, NULL, O_KID},
    {"issuer", required_argument, NULL, O_ISSUER},
    {"token-ttl", required_argument, NULL, O_TTL},
    {"rotate-seconds", required_argument, NULL, O_ROTATE},
    {"max-body", required_argument, NULL, O_MAX_BODY},
    {"rate", required_argument, NULL, O_RATE},
    {"burst", required_argument, NULL, O_BURST},
    {"at", required_argument, NULL, O_AT},
    {"access-log", required_argument, NULL, O_LOG},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static bool apply_number(ta_opts *o, int c, const char *v)
{
    switch (c) {
    case O_TTL: return parse_ll(v, 1, 7 * 86400, &o->token_ttl) || usage_error("bad --token-ttl %s", v);
    case O_ROTATE: return parse_ll(v, 0, 365LL * 86400, &o->rotate) || usage_error("bad --rotate-seconds %s", v);
    case O_MAX_BODY: return parse_ll(v, 1024, 64LL << 20, &o->max_body) || usage_error("bad --max-body %s", v);
    case O_RATE: return parse_double(v, &o->rate) || usage_error("bad --rate %s", v);
    case O_BURST: return parse_double(v, &o->burst) || usage_error("bad --burst %s", v);
    case O_AT:
        o->at_set = true;
        return parse_ll(v, 0, 1LL << 40, &o->at) || usage_error("bad --at %s", v);
    default: return usage_error("unknown option");
    }
}

static bool apply(ta_opts *o, int c, const char *v)
{
    switch (c) {
    case O_LISTEN: o->listen = v; return true;
    case O_PORT_FILE: o->port_file = v; return true;
    case O_POLICY: o->policy = v; return true;
    case O_COLDIR: o->collateral_dir = v; return true;
    case O_PCCS: o->pccs = v; return true;
    case O_PCCS_CACHE: o->pccs_cache = v; return true;
    case O_ALLOW_SIM: o->allow_sim = true; return true;
    case O_SIM_KEY: o->sim_key = v; return true;
    case O_KEY: o->key = v; return true;
    case O_KID: o->kid = v; return true;
    case O_ISSUER: o->issuer = v; return true;
    case O_LOG: o->access_log = v; return true;
    default: return apply_number(o, c, v);
    }
}

/* 0: run; 'h'/'V': print and exit 0; '?': usage error. */
static int parse_args(ta_opts *o, int argc, char **argv)
{
    int c;
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8600";
    o->max_body = 1 << 20;
    while ((c = getopt_long(argc, argv, "hV", LONG_OPTS, NULL)) != -1) {
        if (c == 'h' || c == 'V')
            return c;
        if (c == '?' || !apply(o, c, optarg))
            return '?';
    }
    bool ok = true;
    if (optind != argc)
        ok = usage_error("unexpected argument %s", argv[optind]);
    else if (o->policy == NULL)
        ok = usage_error("--policy FILE is required (no default accepts evidence)");
    else if (o->allow_sim != (o->sim_key != NULL))
        ok = usage_error("--allow-sim and --sim-key go together");
    else if (o->pccs_cache != NULL && o->pccs == NULL)
        ok = usage_error("--pccs-cache needs --pccs");
    else if (o->kid != NULL && o->key == NULL)
        ok = usage_error("--kid names the --key");
    return ok ? 0 : '?';
}

/* ---- configuration ---- */

static bool read_file(const char *path, size_t max, httpa_buf *out)
{
    FILE *f = fopen(path, "rb");
    uint8_t chunk[4096];
    size_t k;
    bool ok = f != NULL;
    while (ok && (k = fread(chunk, 1, sizeof(chunk), f)) != 0)
        ok = httpa_buf_append(out, chunk, k) == HTTPA_OK;
    ok = ok && !ferror(f);
    if (f != NULL)
        fclose(f);
    httpa_wipe(chunk, sizeof(chunk));
    if (!ok)
        fprintf(stderr, "httpa-ta: cannot read %s%s\n", path, out->len >= max ? ": too large" : "");
    return ok;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool hex32(const char *s, size_t n, uint8_t out[32])
{
    while (n != 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    for (size_t i = 0; n == 64 && i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n == 64;
}

static bool load_sim_key(ta_app *a)
{
    const char *k = a->o.sim_key;
    httpa_buf b;
    if (k[0] != '@')
        return hex32(k, strlen(k), a->sim_key) ||
               usage_error("--sim-key wants 64 hex digits or @FILE");
    httpa_buf_init(&b, 1024);
    bool ok = read_file(k + 1, 1024, &b);
    if (ok && b.len == 32)
        memcpy(a->sim_key, b.base, 32);
    else if (ok)
        ok = hex32((const char *)b.base, b.len, a->sim_key) ||
             usage_error("%s holds neither 32 octets nor 64 hex digits", k + 1);
    httpa_buf_free(&b);
    return ok;
}

static bool load_key(ta_app *a)
{
    char err[256] = "";
    httpa_buf b;
    if (a->o.key == NULL)
        return true;
    httpa_buf_init_sensitive(&b, KEY_FILE_MAX);
    bool ok = read_file(a->o.key, KEY_FILE_MAX, &b) &&
              httpa_eat_signer_load_pem(&a->key, (const char *)b.base, b.len, a->o.kid, err,
                                        sizeof(err)) == HTTPA_OK;
    httpa_buf_free(&b);
    if (!ok && err[0] != '\0')
        fprintf(stderr, "httpa-ta: --key %s: %s\n", a->o.key, err);
    a->has_key = ok;
    return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool load_collateral_dir(ta_app *a)
{
    char path[4096];
    DIR *d = opendir(a->o.collateral_dir);
    struct dirent *e;
    bool ok = d != NULL;
    if (d == NULL)
        fprintf(stderr, "httpa-ta: cannot open %s: %s\n", a->o.collateral_dir, strerror(errno));
    while (ok && (e = readdir(d)) != NULL) {
        httpa_dcap_diag diag = {0};
        if (!ends_with(e->d_name, "_collateral.json"))
            continue;
        if (a->ncols == HTTPA_TA_MAX_COLLATERALS) {
            fprintf(stderr, "httpa-ta: more than %d collateral files\n", HTTPA_TA_MAX_COLLATERALS);
            ok = false;
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", a->o.collateral_dir, e->d_name);
        ok = httpa_dcap_collateral_load(path, &a->cols[a->ncols], &diag) == HTTPA_OK;
        if (!ok)
            fprintf(stderr, "httpa-ta: %s: %s %s\n", path, httpa_dcap_reason_text(diag.reason),
                    diag.detail);
        else
            a->ncols++;
    }
    if (d != NULL)
        closedir(d);
    if (ok && a->ncols == 0)
        fprintf(stderr, "httpa-ta: no *_collateral.json in %s\n", a->o.collateral_dir);
    return ok && a->ncols != 0;
}

static bool load_dcap(ta_app *a)
{
    if (a->o.collateral_dir == NULL && a->o.pccs == NULL)
        return true;
    if (httpa_dcap_trust_new_intel(&a->trust) != HTTPA_OK) {
        fprintf(stderr, "httpa-ta: cannot load the Intel SGX Root CA\n");
        return false;
    }
    if (a->o.collateral_dir != NULL && !load_collateral_dir(a))
        return false;
    if (a->o.pccs == NULL)
        return true;
    httpa_pcs_config pc = {.base_url = a->o.pccs, .cache_dir = a->o.pccs_cache};
    httpa_err e = httpa_pcs_new(&pc, &a->pcs);
    if (e != HTTPA_OK)
        fprintf(stderr, "httpa-ta: --pccs %s: %s\n", a->o.pccs, httpa_strerror(e));
    return e == HTTPA_OK;
}

static bool load_all(ta_app *a)
{
    char err[256] = "";
    if (httpa_policy_load(a->o.policy, &a->policy, err, sizeof(err)) != HTTPA_OK) {
        fprintf(stderr, "httpa-ta: %s\n", err);
        return false;
    }
    if (a->o.allow_sim && !httpa_policy_allows_simulated(a->policy))
        fprintf(stderr, "httpa-ta: note: the policy does not allow simulated evidence: every "
                        "sim result will be contraindicated\n");
    return (!a->o.allow_sim || load_sim_key(a)) && load_key(a) && load_dcap(a);
}

static bool make_ta(ta_app *a)
{
    int64_t now = (int64_t)time(NULL);
    if (a->o.at_set)
        a->at_offset = (int64_t)a->o.at - now;
    httpa_ta_config c = {
        .issuer = a->o.issuer, .policy = a->policy, .trust = a->trust,
        .collaterals = (const httpa_dcap_collateral *const *)a->cols, .ncollaterals = a->ncols,
        .pcs = a->pcs, .allow_sim = a->o.allow_sim, .key = a->has_key ? &a->key : NULL,
        .token_ttl = a->o.token_ttl, .rotate_seconds = a->o.rotate,
        .max_body = (size_t)a->o.max_body, .rate = a->o.rate, .burst = a->o.burst,
    };
    memcpy(c.sim_key, a->sim_key, 32);
    httpa_err e = httpa_ta_new(&c, now + a->at_offset, &a->ta);
    if (e == HTTPA_ERR_INVALID_ARG)
        fprintf(stderr, "httpa-ta: invalid configuration (token-ttl must be <= 13 * "
                        "rotate-seconds, issuer under 256 octets)\n");
    else if (e != HTTPA_OK)
        fprintf(stderr, "httpa-ta: cannot start: %s\n", httpa_strerror(e));
    return e == HTTPA_OK;
}

/* ---- requests ---- */

static void peer_of(h2o_req_t *req, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t n = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    snprintf(out, cap, "unknown");
    if (n != 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)cap);
    else if (n != 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)cap);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void add_header(h2o_req_t *req, const h2o_token_t *t, const char *v)
{
    h2o_iovec_t s = h2o_strdup(&req->pool, v, strlen(v));
    h2o_add_header(&req->pool, &req->res.headers, t, NULL, s.base, s.len);
}

static void send_response(h2o_req_t *req, const httpa_ta_response *r)
{
    char retry[24];
    req->res.status = r->status;
    req->res.reason = reason_of(r->status);
    add_header(req, H2O_TOKEN_CONTENT_TYPE, r->content_type);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    if (r->allow != NULL)
        add_header(req, H2O_TOKEN_ALLOW, r->allow);
    if (r->retry_after > 0) {
        snprintf(retry, sizeof(retry), "%lld", (long long)r->retry_after);
        add_header(req, H2O_TOKEN_RETRY_AFTER, retry);
    }
    req->res.content_length = r->body.len;
    h2o_send_inline(req, (const char *)r->body.base, r->body.len); /* copies; honours HEAD */
}

/* One JSON line: no header value, body, token or key. */
static void log_request(ta_app *a, h2o_req_t *req, const char *peer, int status, double ms)
{
    if (a->log == NULL)
        return;
    json_t *o = json_pack("{s:I,s:s,s:s%,s:s%,s:i,s:f}", "ts", (json_int_t)time(NULL), "peer",
                          peer, "method", req->method.base, req->method.len, "path",
                          req->path.base, req->path.len > 256 ? (size_t)256 : req->path.len,
                          "status", status, "ms", ms);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL) {
        fprintf(a->log, "%s\n", s);
        fflush(a->log);
    }
    free(s);
    json_decref(o);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ta_app *a = ((ta_handler *)self)->app;
    char peer[INET6_ADDRSTRLEN + 8];
    httpa_ta_response resp;
    double t0 = mono_now();
    peer_of(req, peer, sizeof(peer));
    httpa_ta_request r = {.method = req->method.base, .method_len = req->method.len,
                          .path = req->path.base, .path_len = req->path.len, .peer = peer,
                          .body = HTTPA_SPAN(req->entity.base, req->entity.len)};
    httpa_ta_response_init(&resp);
    if (httpa_ta_handle(a->ta, &r, (int64_t)time(NULL) + a->at_offset, t0, &resp) != HTTPA_OK) {
        httpa_buf_reset(&resp.body);
        resp.status = 500;
        resp.content_type = "application/problem+json";
        resp.allow = NULL;
        resp.retry_after = 0;
        if (httpa_buf_append_str(&resp.body, "{\"type\":\"" HTTPA_TA_PROBLEM_PREFIX "internal\","
                                 "\"title\":\"internal failure\",\"status\":500}") != HTTPA_OK)
            resp.body.len = 0;
    }
    send_response(req, &resp);
    log_request(a, req, peer, resp.status, (double)(int64_t)((mono_now() - t0) * 1e6) / 1000.0);
    httpa_ta_response_free(&resp);
    return 0;
}

/* ---- listening and the loop ---- */

static int open_listener(const char *listen_on, const char *port_file)
{
    char host[256];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    const char *colon = strrchr(listen_on, ':');
    size_t hl = colon != NULL ? (size_t)(colon - listen_on) : 0;
    if (colon == NULL || hl >= sizeof(host))
        return -1;
    memcpy(host, listen_on, hl);
    host[hl] = '\0';
    const char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        h = host + 1;
    }
    if (strcmp(h, "*") == 0)
        h = NULL;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
        return -1;
    int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        fprintf(stderr, "httpa-ta: cannot listen on %s: %s\n", listen_on, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return -1;
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    FILE *f = port_file != NULL ? fopen(port_file, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "%d\n", port);
        fclose(f);
    }
    fprintf(stderr, "httpa-ta: listening on %s (port %d)\n", listen_on, port);
    return fd;
}

static void on_conn_close(void *data)
{
    ta_app *a = data;
    a->nconns--;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    ta_app *a = listener->data;
    h2o_socket_t *sock;
    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    a->nconns++;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = a;
    h2o_accept(&a->accept_ctx, sock);
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    ta_app *a = sock->data;
    (void)err;
    a->stop = true;
}

static void setup_h2o(ta_app *a)
{
    h2o_config_init(&a->config);
    /* bodies a little over --max-body still reach the handler, which answers
     * 413 problem+json; far larger ones get h2o's own 413 */
    size_t cap = (size_t)a->o.max_body * 2 + 65536;
    a->config.max_request_entity_size = cap;
    h2o_hostconf_t *host =
        h2o_config_register_host(&a->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    ta_handler *h = (ta_handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->app = a;
}

/* Stop accepting, let open connections finish (at most 2 s), release h2o. */
static void drain(ta_app *a, h2o_evloop_t *loop, h2o_socket_t *listener)
{
    time_t deadline = time(NULL) + 2;
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    h2o_context_request_shutdown(&a->ctx);
    while (a->nconns != 0 && time(NULL) < deadline)
        h2o_evloop_run(loop, 100);
    if (a->nconns != 0)
        return; /* the process is about to exit: the kernel closes them */
    if (h2o_timeout_is_linked(&a->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&a->ctx.http2._graceful_shutdown_timeout);
    h2o_evloop_run(loop, 0); /* let the closed sockets go */
    h2o_context_dispose(&a->ctx);
    h2o_evloop_run(loop, 0); /* and the context's queue socket */
    h2o_evloop_destroy(loop);
    h2o_config_dispose(&a->config);
}

static int serve(ta_app *a, int fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        return EXIT_RUNTIME;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&a->ctx, loop, &a->config);
    a->accept_ctx.ctx = &a->ctx;
    a->accept_ctx.hosts = a->config.hosts;
    h2o_socket_t *listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = a;
    h2o_socket_read_start(listener, on_accept);
    h2o_socket_t *sig = h2o_evloop_socket_create(loop, sfd, H2O_SOCKET_FLAG_DONT_READ);
    sig->data = a;
    h2o_socket_read_start(sig, on_signal);
    while (!a->stop)
        h2o_evloop_run(loop, INT32_MAX);
    fprintf(stderr, "httpa-ta: stopping\n");
    h2o_socket_read_stop(sig);
    h2o_socket_close(sig);
    drain(a, loop, listener);
    return 0;
}

static void announce(ta_app *a)
{
    char kid[HTTPA_EAT_KID_MAX];
    httpa_ta_current_kid(a->ta, kid);
    fprintf(stderr, "httpa-ta: signing key kid %s; %zu collateral file(s)%s%s\n", kid, a->ncols,
            a->pcs != NULL ? ", PCCS " : "", a->pcs != NULL ? a->o.pccs : "");
    if (a->o.allow_sim)
        fprintf(stderr, "httpa-ta: WARNING: --allow-sim: SIMULATED TEE evidence is appraised; "
                        "it proves NOTHING about hardware. Development only.\n");
    if (a->o.at_set)
        fprintf(stderr, "httpa-ta: WARNING: --at: the appraisal clock is set to %lld (tests "
                        "only)\n", a->o.at);
}

static void cleanup(ta_app *a)
{
    httpa_ta_free(a->ta);
    httpa_pcs_free(a->pcs);
    for (size_t i = 0; i < a->ncols; i++)
        httpa_dcap_collateral_free(a->cols[i]);
    httpa_dcap_trust_free(a->trust);
    httpa_policy_free(a->policy);
    httpa_eat_signer_clear(&a->key);
    if (a->log != NULL && a->log != stderr)
        fclose(a->log);
}

static int run(ta_app *a)
{
    if (!load_all(a) || !make_ta(a))
        return EXIT_USAGE;
    if (a->o.access_log != NULL)
        a->log = strcmp(a->o.access_log, "-") == 0 ? stderr : fopen(a->o.access_log, "a");
    if (a->o.access_log != NULL && a->log == NULL) {
        fprintf(stderr, "httpa-ta: cannot open %s: %s\n", a->o.access_log, strerror(errno));
        return EXIT_USAGE;
    }
    setup_h2o(a);
    int fd = open_listener(a->o.listen, a->o.port_file);
    if (fd < 0)
        return EXIT_RUNTIME;
    announce(a);
    return serve(a, fd);
}

int main(int argc, char **argv)
{
    ta_app *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return EXIT_RUNTIME;
    int rc = parse_args(&a->o, argc, argv);
    if (rc == 'h')
        fputs(HELP, stdout);
    else if (rc == 'V')
        printf("httpa-ta %s (HTTPA/2 wire profile revision 2, results per section 7.7)\n",
               TA_VERSION);
    rc = rc == 'h' || rc == 'V' ? 0 : rc == '?' ? EXIT_USAGE : run(a);
    cleanup(a);
    free(a);
    return rc;
}
