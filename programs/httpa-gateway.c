/* httpa-gateway: the HTTPA/2 terminator that runs inside the TEE in front of
 * an unmodified HTTP application. It answers Preflight and AtHS itself,
 * verifies every AtSP and TrT, forwards the restored request to the
 * loopback upstream and streams the upstream's response back protected.
 *
 * Structure: options (flags and a JSON file, one table), the TEE provider
 * and the attested handshake key, the h2o configuration, one event loop
 * per thread sharing one listening socket and one httpa_server, and a main
 * thread that waits for signals (sigtimedwait: no signal handler, no global
 * state) and runs the periodic work (key rotation, sweeping expired bases). */
#define _GNU_SOURCE /* syscall(SYS_gettid): a nice value for one thread */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <h2o.h>
#include <h2o/http2.h>
#pragma GCC diagnostic pop
#include <curl/curl.h>
#include <openssl/ssl.h>

#include "httpa/curl.h"
#include "httpa/dcap.h"
#include "httpa/eat.h"
#include "httpa/h2o.h"
#include "httpa/keymgr.h"
#include "httpa/policy.h"
#include "httpa/server.h"
#include "httpa/sim.h"
#include "httpa/tee.h"

#define GW_VERSION "0.1.0"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define MAX_THREADS 256
#define SIM_MEASUREMENT "httpa-gateway sim measurement v1" /* 32 octets */

/* ---- options ---- */

typedef struct gw_opts {
    const char *listen;
    const char *upstream;
    bool passthrough;
    uint64_t threads;
    const char *tls_cert;
    const char *tls_key;
    const char *tee;
    const char *tsm_root;
    const char *gramine_root;
    const char *ta;
    const char *ta_cacert;
    uint64_t ta_refresh;
    const char *sim_seed;
    const char *sim_pubkey_out;
    const char *secrets_path;
    const char *access_log;
    const char *port_file;
    uint64_t max_header_size;
    uint64_t max_body;
    uint64_t max_bases;
    uint64_t max_connections;
    uint64_t request_timeout;
    uint64_t idle_timeout;
    uint64_t upstream_timeout;
    uint64_t shutdown_timeout;
    uint64_t expires;
    uint64_t key_lifetime;
    uint64_t record_size;
    const char *route_tag;
    const char *client_sim_key;
    const char *client_policy;
    const char *client_collateral;
    bool require_client_attestation;
    const char *config;
    bool test;
} gw_opts;

typedef enum opt_kind { OPT_STR, OPT_U64, OPT_BOOL } opt_kind;

typedef struct opt_def {
    const char *name;
    opt_kind kind;
    size_t offset;
    uint64_t min, max; /* OPT_U64 */
} opt_def;

#define O_STR(n, f) {n, OPT_STR, offsetof(gw_opts, f), 0, 0}
#define O_U64(n, f, lo, hi) {n, OPT_U64, offsetof(gw_opts, f), lo, hi}
#define O_BOOL(n, f) {n, OPT_BOOL, offsetof(gw_opts, f), 0, 0}

/* Every option, for flags and for the JSON configuration alike. */
static const opt_def opt_defs[] = {
    O_STR("listen", listen),
    O_STR("upstream", upstream),
    O_BOOL("passthrough", passthrough),
    O_U64("threads", threads, 1, MAX_THREADS),
    O_STR("tls-cert", tls_cert),
    O_STR("tls-key", tls_key),
    O_STR("tee", tee),
    O_STR("tsm-root", tsm_root),
    O_STR("gramine-root", gramine_root),
    O_STR("ta", ta),
    O_STR("ta-cacert", ta_cacert),
    O_U64("ta-refresh", ta_refresh, 60, 302400),
    O_STR("sim-seed", sim_seed),
    O_STR("sim-pubkey-out", sim_pubkey_out),
    O_STR("secrets-path", secrets_path),
    O_STR("access-log", access_log),
    O_STR("port-file", port_file),
    O_U64("max-header-size", max_header_size, 65536, 16 << 20),
    O_U64("max-body", max_body, 1024, (uint64_t)1 << 30),
    O_U64("max-bases", max_bases, 1, 100000000),
    O_U64("max-connections", max_connections, 1, 10000000),
    O_U64("request-timeout", request_timeout, 1, 3600),
    O_U64("idle-timeout", idle_timeout, 1, 3600),
    O_U64("upstream-timeout", upstream_timeout, 1, 3600),
    O_U64("shutdown-timeout", shutdown_timeout, 0, 3600),
    O_U64("expires", expires, 1, 604800),
    O_U64("key-lifetime", key_lifetime, 900, 604800),
    O_U64("record-size", record_size, 1024, 65536),
    O_STR("route-tag", route_tag),
    O_STR("client-sim-key", client_sim_key),
    O_STR("client-policy", client_policy),
    O_STR("client-collateral", client_collateral),
    O_BOOL("require-client-attestation", require_client_attestation),
    O_STR("config", config),
    O_BOOL("test", test),
};
#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static void opts_default(gw_opts *o)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8443";
    o->threads = n > 0 && n <= MAX_THREADS ? (uint64_t)n : 1;
    o->secrets_path = "/.httpa/secrets";
    o->access_log = "-";
    o->max_header_size = 131072;
    o->max_body = 16 << 20;
    o->max_bases = 100000;
    o->max_connections = 10000;
    o->request_timeout = 10;
    o->idle_timeout = 10;
    o->upstream_timeout = 30;
    o->shutdown_timeout = 30;
    o->expires = 3600;
    o->key_lifetime = 86400;
    o->ta_refresh = 1200; /* a third of httpa-ta's default token lifetime */
    o->record_size = 16384;
}

static const opt_def *opt_find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opt_defs[i].name, name) == 0)
            return &opt_defs[i];
    return NULL;
}

/* Set one option from text; false (with a message) when invalid. The
 * strings stay owned by argv or the JSON document. */
static bool opt_set(gw_opts *o, const opt_def *d, const char *value)
{
    char *field = (char *)o + d->offset;
    if (d->kind == OPT_STR) {
        *(const char **)field = value;
        return true;
    }
    if (d->kind == OPT_BOOL) {
        bool v = value == NULL || strcmp(value, "true") == 0;
        if (value != NULL && !v && strcmp(value, "false") != 0) {
            fprintf(stderr, "httpa-gateway: --%s takes true or false\n", d->name);
            return false;
        }
        *(bool *)field = v;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long v = value != NULL ? strtoull(value, &end, 10) : 0;
    if (value == NULL || value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 ||
        v < d->min || v > d->max) {
        fprintf(stderr, "httpa-gateway: --%s takes an integer from %" PRIu64 " to %" PRIu64 "\n",
                d->name, d->min, d->max);
        return false;
    }
    *(uint64_t *)field = v;
    return true;
}

/* One JSON member: strings, integers and booleans, as with flags. */
static bool opt_set_json(gw_opts *o, const char *key, json_t *v)
{
    const opt_def *d = opt_find(key);
    char num[32];
    if (d == NULL || strcmp(key, "config") == 0 || strcmp(key, "test") == 0) {
        fprintf(stderr, "httpa-gateway: unknown configuration key \"%s\"\n", key);
        return false;
    }
    if (json_is_string(v))
        return opt_set(o, d, json_string_value(v));
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return opt_set(o, d, num);
    }
    if (json_is_boolean(v) && d->kind == OPT_BOOL)
        return opt_set(o, d, json_is_true(v) ? "true" : "false");
    fprintf(stderr, "httpa-gateway: configuration key \"%s\" has the wrong type\n", key);
    return false;
}

static bool load_config(gw_opts *o, const char *path, json_t **doc)
{
    json_error_t jerr;
    const char *key;
    json_t *v;
    *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (*doc == NULL || !json_is_object(*doc)) {
        fprintf(stderr, "httpa-gateway: %s:%d: %s\n", path, jerr.line,
                *doc == NULL ? jerr.text : "the configuration must be a JSON object");
        return false;
    }
    json_object_foreach(*doc, key, v) {
        if (!opt_set_json(o, key, v))
            return false;
    }
    return true;
}

static void usage(FILE *f);

/* The option a getopt_long result stands for. */
static const opt_def *opt_of(int c)
{
    return c == 'c' ? opt_find("config") : c == 't' ? opt_find("test") : c == 'l' ? opt_find("listen")
                                                                                   : &opt_defs[c - 256];
}

/* Flags: --name VALUE, --name=VALUE; booleans take no value. Two passes:
 * the first finds --config (and --help), the file is loaded, the second
 * applies the flags, which therefore override the file. */
static int parse_args(gw_opts *o, int argc, char **argv, json_t **doc)
{
    struct option lo[NOPTS + 3];
    for (size_t i = 0; i < NOPTS; i++)
        lo[i] = (struct option){opt_defs[i].name,
                                opt_defs[i].kind == OPT_BOOL ? no_argument : required_argument,
                                NULL, (int)(i + 256)};
    lo[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lo[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};

    for (int pass = 0; pass < 2; pass++) {
        int c;
        optind = 0; /* glibc: rescan from the start */
        opterr = pass == 1;
        while ((c = getopt_long(argc, argv, "hc:tl:", lo, NULL)) != -1) {
            if (c == 'h' || c == 'V')
                return c;
            if (c == '?') {
                if (pass == 1)
                    return '?';
                continue; /* reported in the second pass */
            }
            const opt_def *d = opt_of(c);
            bool is_config = strcmp(d->name, "config") == 0;
            if (pass == (is_config ? 0 : 1) && !opt_set(o, d, optarg))
                return '?';
        }
        if (pass == 0 && o->config != NULL && !load_config(o, o->config, doc))
            return '?';
    }
    if (optind != argc) {
        fprintf(stderr, "httpa-gateway: unexpected argument \"%s\"\n", argv[optind]);
        return '?';
    }
    return 0;
}

/* ---- the gateway ---- */

typedef struct gateway gateway;

typedef struct gw_worker {
    gateway *g;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    size_t nconns; /* this loop's open connections */
} gw_worker;

struct gateway {
    gw_opts o;
    FILE *log;
    httpa_tee *tee;
    httpa_attester *attester; /* the provider's: fresh mode and the attested keys */
    httpa_server *srv;
    httpa_keymgr *keymgr;
    httpa_ta_client_config ta; /* passport model: --ta */
    /* mutual mode (--client-*): the client's evidence */
    httpa_verifier client_verifier; /* tries each of client_chain */
    httpa_verifier *client_chain[2];
    size_t nclient_chain;
    httpa_sim_verifier client_sim;
    httpa_policy *client_policy;
    httpa_dcap_trust *client_trust;
    httpa_dcap_collateral *client_col;
    httpa_dcap_verifier client_dcap;
    bool curl_ready;
    h2o_globalconf_t globalconf;
    bool has_globalconf;
    SSL_CTX *ssl_ctx;
    int listen_fd;
    atomic_bool stopping;
    atomic_size_t nconns; /* all loops */
    gw_worker workers[MAX_THREADS];
};

/* A JSON event line in the log (text is a fixed sentence, never data). */
static void log_event(gateway *g, const char *level, const char *text)
{
    if (g->log == NULL)
        return;
    fprintf(g->log, "{\"ts\":%lld,\"event\":\"%s\",\"message\":\"%s\"}\n", (long long)time(NULL),
            level, text);
    fflush(g->log);
}

static void fail_err(const char *what, httpa_err e)
{
    fprintf(stderr, "httpa-gateway: %s: %s (%s)\n", what, httpa_strerror(e), httpa_err_name(e));
}

/* ---- TEE providers ---- */

static bool parse_hex32(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !isxdigit((unsigned char)hex[2 * i]) ||
            !isxdigit((unsigned char)hex[2 * i + 1]))
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char SIM_WARNING[] =
    "\n"
    "  ##################################################################\n"
    "  #  WARNING: SIMULATED TEE (--tee sim)                            #\n"
    "  #  The evidence this gateway produces is signed by a SOFTWARE    #\n"
    "  #  key. It proves NOTHING about hardware, and anyone holding the #\n"
    "  #  simulation key can impersonate this service. Clients accept   #\n"
    "  #  it only when explicitly configured with the public key below. #\n"
    "  #  Never use --tee sim in production.                            #\n"
    "  ##################################################################\n\n";

static bool write_pubkey_file(const char *path, const char *hex)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0) {
        fprintf(stderr, "httpa-gateway: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* The simulated TEE, loudly, with its public key (base is the first member). */
static int announce_sim(gateway *g)
{
    const httpa_sim_attester *sim = (const httpa_sim_attester *)g->attester;
    char hex[65];
    hex_of(sim->pub, 32, hex);
    fputs(SIM_WARNING, stderr);
    fprintf(stderr, "httpa-gateway: sim attestation public key: %s\n", hex);
    log_event(g, "warning", "SIMULATED TEE (--tee sim): the evidence proves nothing about "
                            "hardware; never use it in production");
    if (g->o.sim_pubkey_out != NULL && !write_pubkey_file(g->o.sim_pubkey_out, hex))
        return EXIT_RUNTIME;
    return 0;
}

static void tee_fail(const char *what, httpa_err e, const httpa_tee_diag *d)
{
    fprintf(stderr, "httpa-gateway: %s: %s (%s): %s (%s)%s%s\n", what, httpa_strerror(e),
            httpa_err_name(e), httpa_tee_reason_text(d->reason), httpa_tee_reason_name(d->reason),
            d->detail[0] != '\0' ? ": " : "", d->detail);
}

/* --tee auto|tsm|gramine|sim (tee.h): auto picks tsm, then gramine, never
 * sim; sim must be named. */
static int tee_open(gateway *g)
{
    uint8_t seed[32] = {0};
    httpa_tee_options to;
    httpa_tee_diag d = {.reason = HTTPA_TEE_OK};
    memset(&to, 0, sizeof(to));
    to.provider = g->o.tee;
    to.tsm.root = g->o.tsm_root;
    to.gramine.root = g->o.gramine_root;
    to.allow_sim = strcmp(g->o.tee, "sim") == 0;
    memcpy(to.sim_measurement, SIM_MEASUREMENT, HTTPA_SIM_MEASUREMENT_LEN);
    to.sim_svn = 1;
    if (g->o.sim_seed != NULL && parse_hex32(g->o.sim_seed, seed))
        to.sim_seed = seed; /* validate() checked the form */
    httpa_err e = httpa_tee_open(&to, &g->tee, &d);
    httpa_wipe(seed, sizeof(seed));
    if (e != HTTPA_OK) {
        tee_fail(strcmp(g->o.tee, "auto") == 0 ? "--tee auto found no TEE" : "TEE provider", e, &d);
        return EXIT_RUNTIME;
    }
    g->attester = httpa_tee_attester(g->tee);
    httpa_tee_kind kind = httpa_tee_kind_of(g->tee);
    fprintf(stderr, "httpa-gateway: TEE provider %s, evidence of TEE \"%s\"\n",
            httpa_tee_kind_name(kind), g->attester->tee);
    return kind == HTTPA_TEE_KIND_SIM ? announce_sim(g) : 0;
}

/* -t: is the named TEE interface on this host? (nothing is written to it) */
static int tee_check(const gw_opts *o)
{
    const char *tsm = o->tsm_root != NULL ? o->tsm_root : HTTPA_TSM_DEFAULT_ROOT;
    const char *gra = o->gramine_root != NULL ? o->gramine_root : HTTPA_GRAMINE_DEFAULT_ROOT;
    httpa_tee_kind k = HTTPA_TEE_KIND_SIM;
    if (strcmp(o->tee, "auto") == 0)
        k = httpa_tee_detect(tsm, gra);
    else if (strcmp(o->tee, "tsm") == 0)
        k = httpa_tee_detect(tsm, "/nonexistent/httpa") == HTTPA_TEE_KIND_TSM ? HTTPA_TEE_KIND_TSM
                                                                            : HTTPA_TEE_KIND_NONE;
    else if (strcmp(o->tee, "gramine") == 0)
        k = httpa_tee_detect("/nonexistent/httpa", gra) == HTTPA_TEE_KIND_GRAMINE
                ? HTTPA_TEE_KIND_GRAMINE
                : HTTPA_TEE_KIND_NONE;
    if (k == HTTPA_TEE_KIND_NONE) {
        fprintf(stderr, "httpa-gateway: --tee %s: no TEE interface on this host (%s, %s/quote)\n",
                o->tee, tsm, gra);
        return EXIT_USAGE;
    }
    printf("httpa-gateway: TEE provider: %s\n", httpa_tee_kind_name(k));
    return 0;
}

/* ---- the attested handshake key (profile 7.2) and stapling (7.7) ---- */

/* An event line with an error name and a detail (escaped by jansson). */
static void log_detail(gateway *g, const char *level, const char *text, httpa_err e,
                       const char *detail)
{
    if (g->log == NULL)
        return;
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "ts", (json_int_t)time(NULL), "event", level,
                          "message", text, "error", httpa_err_name(e), "detail", detail);
    if (o != NULL && json_dumpf(o, g->log, JSON_COMPACT) == 0)
        fputc('\n', g->log);
    fflush(g->log);
    json_decref(o);
}

/* Passport model: a token from the TA for the new key's raw evidence, bound
 * to the key's report_data (the TA refuses evidence of another key). On the
 * key manager's thread, never on a request's. */
static httpa_err staple_token(void *arg, const char *tee, httpa_span raw,
                              const uint8_t rd[HTTPA_REPORT_DATA_LEN], httpa_buf *token)
{
    gateway *g = arg;
    char why[256] = "";
    httpa_ta_token_info info;
    httpa_err e = httpa_ta_fetch_token(&g->ta, tee, raw, rd, NULL, (int64_t)time(NULL), token,
                                       &info, why, sizeof(why));
    if (e != HTTPA_OK)
        log_detail(g, "error", "Trusted Authority token not obtained: serving the raw evidence "
                               "alone until the next attempt", e, why);
    return e;
}

static void on_key_event(void *arg, const httpa_keymgr_event *ev)
{
    gateway *g = arg;
    if (ev->err != HTTPA_OK) {
        httpa_tee_diag d;
        httpa_tee_last_error(g->tee, &d);
        log_detail(g, "error", "attested handshake key not created; retrying", ev->err, d.detail);
        return;
    }
    log_event(g, "info", ev->stapled ? "attested handshake key installed, Trusted Authority token stapled"
                                     : "attested handshake key installed");
}

/* Rotate at half the lifetime (or sooner, for the stapled token's sake),
 * leaving the headroom the key manager requires. */
static int64_t rotate_interval(const gw_opts *o)
{
    int64_t life = (int64_t)o->key_lifetime, r = life / 2;
    if (r > life - HTTPA_KEYMGR_MIN_HEADROOM)
        r = life - HTTPA_KEYMGR_MIN_HEADROOM;
    if (o->ta != NULL && (int64_t)o->ta_refresh < r)
        r = (int64_t)o->ta_refresh;
    return r;
}

/* The first key is made on the manager's thread; wait for it (or its
 * failure) so that the gateway never listens without a key. */
static int wait_first_key(gateway *g)
{
    httpa_keymgr_status st;
    for (int i = 0; i < 1200; i++) { /* 120 s */
        if (httpa_keymgr_wait(g->keymgr, 1, 100) == HTTPA_OK)
            return 0;
        httpa_keymgr_get_status(g->keymgr, &st);
        if (st.failures > 0) {
            httpa_tee_diag d;
            httpa_tee_last_error(g->tee, &d);
            tee_fail("attested handshake key", st.last_error, &d);
            return EXIT_RUNTIME;
        }
    }
    fprintf(stderr, "httpa-gateway: attested handshake key: no evidence after 120 s\n");
    return EXIT_RUNTIME;
}

static int keys_start(gateway *g)
{
    httpa_keymgr_config kc = {
        .server = g->srv,
        .attester = g->attester,
        .alg = HTTPA_ED25519,
        .lifetime = (int64_t)g->o.key_lifetime,
        .rotate_interval = rotate_interval(&g->o),
        .on_event = on_key_event,
        .event_arg = g,
        .staple = g->o.ta != NULL ? staple_token : NULL,
        .staple_arg = g,
    };
    if (g->o.ta != NULL)
        g->ta = (httpa_ta_client_config){.url = g->o.ta, .cafile = g->o.ta_cacert, .timeout_ms = 5000};
    httpa_err e = httpa_keymgr_start(&kc, &g->keymgr);
    if (e != HTTPA_OK) {
        fail_err("attested-key manager", e);
        return EXIT_RUNTIME;
    }
    return wait_first_key(g);
}

/* ---- h2o configuration ---- */

static SSL_CTX *tls_context(const gw_opts *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "httpa-gateway: cannot load the TLS certificate %s and key %s\n",
                o->tls_cert, o->tls_key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

/* The h2o side of the limits: bodies arrive whole (h2o 2.2), so the entity
 * limit is the wire size of the largest allowed body at the smallest record
 * size; timeouts in milliseconds. */
static void h2o_setup(gateway *g)
{
    const gw_opts *o = &g->o;
    h2o_config_init(&g->globalconf);
    g->has_globalconf = true;
    g->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("httpa-gateway"));
    g->globalconf.max_request_entity_size = (size_t)(o->max_body + (o->max_body / 1024 + 1) * 16);
    g->globalconf.http1.req_timeout = o->request_timeout * 1000;
    g->globalconf.http1.upgrade_to_http2 = 1; /* also: HTTP/2 prior knowledge on cleartext */
    g->globalconf.http2.idle_timeout = o->idle_timeout * 1000;
    /* no h2o straggler timer: drain() enforces --shutdown-timeout */
    g->globalconf.http2.graceful_shutdown_timeout = 0;
    g->globalconf.handshake_timeout = o->request_timeout * 1000;
}

static int register_handler(gateway *g)
{
    h2o_hostconf_t *host = h2o_config_register_host(&g->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    httpa_h2o_config hc = {
        .upstream = g->o.upstream,
        .secrets_path = g->o.secrets_path,
        .passthrough = g->o.passthrough,
        .access_log = g->log,
        .max_body = g->o.max_body,
        .max_header_bytes = g->o.max_header_size,
        .upstream_timeout_ms = g->o.upstream_timeout * 1000,
        /* Keep as many idle upstream connections as a loop can have
         * requests in flight: with the adapter's default (16), more
         * concurrent requests than that close and reopen an upstream
         * connection per request (connect, accept, TIME_WAIT). Idle ones
         * still close after two seconds. */
        .upstream_idle = (size_t)(g->o.max_connections / g->o.threads + 1),
    };
    httpa_err e = httpa_h2o_register(path, g->srv, &hc);
    if (e != HTTPA_OK) {
        fail_err("HTTPA handler", e);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* ---- mutual mode: the client's evidence (--client-*) ---- */

static const char CLIENT_SIM_WARNING[] =
    "\n"
    "  ##################################################################\n"
    "  #  WARNING: SIMULATED CLIENT TEEs ACCEPTED (--client-sim-key)    #\n"
    "  #  Client evidence signed by this SOFTWARE key is accepted as    #\n"
    "  #  attestation. It proves NOTHING about the client's hardware.   #\n"
    "  #  Never use --client-sim-key in production.                     #\n"
    "  ##################################################################\n\n";

/* --client-sim-key HEX|@FILE: 64 hex digits, or a file with them (a final
 * newline allowed) or with the 32 octets. */
static bool read_sim_key(const char *arg, uint8_t key[32])
{
    if (arg[0] != '@')
        return parse_hex32(arg, key);
    char buf[80] = {0};
    FILE *f = fopen(arg + 1, "rb");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    if (n == 32) {
        memcpy(key, buf, 32);
        return true;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return n == 64 && parse_hex32(buf, key);
}

/* The first verifier that knows the evidence decides; UNSUPPORTED makes the
 * engine skip the entry (and fail closed when none verifies). */
static httpa_err client_appraise(httpa_verifier *self, const char *tee, const char *format,
                                 httpa_span ev, int64_t now, httpa_appraisal *out)
{
    gateway *g = (gateway *)((char *)self - offsetof(gateway, client_verifier));
    for (size_t i = 0; i < g->nclient_chain; i++) {
        httpa_err e = g->client_chain[i]->appraise(g->client_chain[i], tee, format, ev, now, out);
        if (e != HTTPA_ERR_UNSUPPORTED)
            return e;
    }
    return HTTPA_ERR_UNSUPPORTED;
}

static int client_sim_setup(gateway *g)
{
    uint8_t key[32] = {0};
    if (g->o.client_sim_key == NULL)
        return 0;
    if (!read_sim_key(g->o.client_sim_key, key)) {
        fprintf(stderr, "httpa-gateway: --client-sim-key takes 64 hex digits or @FILE\n");
        return EXIT_USAGE;
    }
    httpa_sim_verifier_init(&g->client_sim, key);
    g->client_chain[g->nclient_chain++] = &g->client_sim.base;
    fputs(CLIENT_SIM_WARNING, stderr);
    log_event(g, "warning", "SIMULATED CLIENT TEEs ACCEPTED (--client-sim-key): client "
                            "evidence proves nothing about hardware; never use it in production");
    return 0;
}

/* Why the DCAP verifier refused client evidence (the engine only answers
 * bad_quote): the reason's name and its detail, into the log. */
static void client_dcap_rejected(void *arg, const char *tee, httpa_err err, const char *reason,
                                 const char *detail)
{
    char why[320];
    snprintf(why, sizeof(why), "%s: %s%s%s", tee, reason, detail[0] != '\0' ? ": " : "", detail);
    log_detail((gateway *)arg, "warning", "client evidence rejected by DCAP appraisal", err, why);
}

/* --client-collateral FILE (and --client-policy FILE): DCAP for sgx/tdx. */
static int client_dcap_setup(gateway *g)
{
    const gw_opts *o = &g->o;
    char msg[256] = "";
    httpa_dcap_diag d = {0};
    if (o->client_collateral == NULL)
        return 0;
    httpa_err e = o->client_policy != NULL
                      ? httpa_policy_load(o->client_policy, &g->client_policy, msg, sizeof(msg))
                      : httpa_policy_new_default(false, &g->client_policy);
    if (e != HTTPA_OK) {
        fprintf(stderr, "httpa-gateway: --client-policy %s: %s\n",
                o->client_policy ? o->client_policy : "(default)",
                msg[0] ? msg : httpa_strerror(e));
        return EXIT_USAGE;
    }
    if (httpa_dcap_trust_new_intel(&g->client_trust) != HTTPA_OK) {
        fprintf(stderr, "httpa-gateway: cannot load the Intel SGX Root CA\n");
        return EXIT_RUNTIME;
    }
    if (httpa_dcap_collateral_load(o->client_collateral, &g->client_col, &d) != HTTPA_OK) {
        fprintf(stderr, "httpa-gateway: --client-collateral %s: %s\n", o->client_collateral,
                d.detail[0] ? d.detail : httpa_dcap_reason_text(d.reason));
        return EXIT_USAGE;
    }
    httpa_dcap_verifier_init(&g->client_dcap, g->client_trust,
                             (const httpa_dcap_collateral *const *)&g->client_col, 1,
                             g->client_policy);
    g->client_dcap.on_reject = client_dcap_rejected;
    g->client_dcap.on_reject_arg = g;
    g->client_chain[g->nclient_chain++] = &g->client_dcap.base;
    return 0;
}

static int client_setup(gateway *g)
{
    int rc = client_sim_setup(g);
    if (rc == 0)
        rc = client_dcap_setup(g);
    g->client_verifier.appraise = client_appraise;
    if (rc == 0 && g->nclient_chain != 0)
        log_event(g, "info", g->o.require_client_attestation
                                 ? "mutual mode: client attestation required"
                                 : "mutual mode: client evidence verified when offered");
    return rc;
}

/* --route-tag HEX2: the first octet of every Base-ID (profile 15.4). */
static bool parse_route_tag(const char *s, uint8_t *tag)
{
    unsigned v = 0;
    for (int i = 0; i < 2; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *tag = (uint8_t)v;
    return s[2] == '\0';
}

static int server_setup(gateway *g)
{
    httpa_limits lim = httpa_limits_default();
    lim.max_body = g->o.max_body;
    lim.max_bases = (size_t)g->o.max_bases;
    lim.record_size = (uint32_t)g->o.record_size;
    if (g->o.max_header_size < lim.max_attest_fields)
        lim.max_attest_fields = (size_t)g->o.max_header_size;
    httpa_server_config sc = {
        .limits = lim,
        .attester = g->attester, /* fresh mode: the TEE quotes each handshake */
        .expires = (uint32_t)g->o.expires,
    };
    sc.use_route_tag = g->o.route_tag != NULL && parse_route_tag(g->o.route_tag, &sc.route_tag);
    int rc = client_setup(g);
    if (rc != 0)
        return rc;
    sc.client_verifier = g->nclient_chain != 0 ? &g->client_verifier : NULL;
    sc.require_client_attestation = g->o.require_client_attestation;
    httpa_err e = httpa_server_new(&sc, &g->srv);
    if (e != HTTPA_OK) {
        fail_err("HTTPA server", e);
        return EXIT_RUNTIME;
    }
    return keys_start(g);
}

/* ---- validation (also what -t checks) ---- */

static int validate_client(const gw_opts *o)
{
    uint8_t key[32] = {0};
    bool sim_ok = o->client_sim_key == NULL || read_sim_key(o->client_sim_key, key);
    httpa_wipe(key, sizeof(key));
    if (!sim_ok) {
        fprintf(stderr, "httpa-gateway: --client-sim-key takes 64 hex digits or @FILE\n");
        return EXIT_USAGE;
    }
    if (o->client_policy != NULL && o->client_collateral == NULL) {
        fprintf(stderr, "httpa-gateway: --client-policy needs --client-collateral\n");
        return EXIT_USAGE;
    }
    if (o->require_client_attestation && o->client_sim_key == NULL &&
        o->client_collateral == NULL) {
        fprintf(stderr, "httpa-gateway: --require-client-attestation needs --client-sim-key "
                        "or --client-collateral\n");
        return EXIT_USAGE;
    }
    return 0;
}

static int validate(gateway *g)
{
    const gw_opts *o = &g->o;
    const char *why;

    if (o->upstream == NULL) {
        fprintf(stderr, "httpa-gateway: --upstream is required\n");
        return EXIT_USAGE;
    }
    if (httpa_h2o_upstream_check(o->upstream, &why) != HTTPA_OK) {
        fprintf(stderr, "httpa-gateway: --upstream %s: %s\n", o->upstream, why);
        return EXIT_USAGE;
    }
    if (o->tee == NULL || (strcmp(o->tee, "auto") != 0 && strcmp(o->tee, "tsm") != 0 &&
                           strcmp(o->tee, "gramine") != 0 && strcmp(o->tee, "sim") != 0)) {
        fprintf(stderr, "httpa-gateway: --tee must be auto, tsm, gramine or sim\n");
        return EXIT_USAGE;
    }
    if (o->ta != NULL && strncmp(o->ta, "http://", 7) != 0 && strncmp(o->ta, "https://", 8) != 0) {
        fprintf(stderr, "httpa-gateway: --ta takes an http:// or https:// URL\n");
        return EXIT_USAGE;
    }
    if (o->ta_cacert != NULL && o->ta == NULL) {
        fprintf(stderr, "httpa-gateway: --ta-cacert needs --ta\n");
        return EXIT_USAGE;
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        fprintf(stderr, "httpa-gateway: --tls-cert and --tls-key go together\n");
        return EXIT_USAGE;
    }
    if (o->secrets_path[0] != '/' || strpbrk(o->secrets_path, " \r\n") != NULL) {
        fprintf(stderr, "httpa-gateway: --secrets-path must be an absolute path\n");
        return EXIT_USAGE;
    }
    uint8_t seed[32];
    if (o->sim_seed != NULL && !parse_hex32(o->sim_seed, seed)) {
        fprintf(stderr, "httpa-gateway: --sim-seed takes 64 hexadecimal digits\n");
        return EXIT_USAGE;
    }
    httpa_wipe(seed, sizeof(seed));
    uint8_t tag = 0;
    if (o->route_tag != NULL && !parse_route_tag(o->route_tag, &tag)) {
        fprintf(stderr, "httpa-gateway: --route-tag takes 2 hexadecimal digits\n");
        return EXIT_USAGE;
    }
    return validate_client(o);
}

/* ---- listening ---- */

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] == '\0')
        return -1;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
            return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    if (strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
        return -1;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof(*in4);
    return 0;
}

static int write_port_file(const char *path, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    /* Write then rename, so a reader never sees a half-written file. */
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static int open_listener(gateway *g)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    if (parse_listen(g->o.listen, &ss, &len) != 0) {
        fprintf(stderr, "httpa-gateway: --listen takes ADDRESS:PORT (127.0.0.1:8443, [::1]:8443, *:8443)\n");
        return EXIT_USAGE;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "httpa-gateway: cannot listen on %s: %s\n", g->o.listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_RUNTIME;
    }
    g->listen_fd = fd;
    if (g->o.port_file != NULL && write_port_file(g->o.port_file, fd) != 0) {
        fprintf(stderr, "httpa-gateway: cannot write %s: %s\n", g->o.port_file, strerror(errno));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* ---- event loops ---- */

static void on_conn_close(void *data)
{
    gw_worker *w = data;
    w->nconns--;
    atomic_fetch_sub(&w->g->nconns, 1);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    gw_worker *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        /* Over the limit: shed the connection at once rather than queue it. */
        if (atomic_fetch_add(&w->g->nconns, 1) >= w->g->o.max_connections) {
            atomic_fetch_sub(&w->g->nconns, 1);
            h2o_socket_close(sock);
            continue;
        }
        w->nconns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = w;
        h2o_accept(&w->accept_ctx, sock);
    }
}

/* Stop accepting, let in-flight requests finish (h2o closes HTTP/1.1
 * connections after their response and sends HTTP/2 GOAWAY), then return. */
static void drain(gw_worker *w, h2o_loop_t *loop)
{
    time_t deadline = time(NULL) + (time_t)w->g->o.shutdown_timeout;
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    h2o_context_request_shutdown(&w->ctx);
    while (w->nconns != 0 && time(NULL) < deadline)
        h2o_evloop_run(loop, 100);
    /* h2o 2.2's HTTP/2 shutdown arms a one-second GOAWAY resend timer that
     * h2o_context_dispose would find still linked (an assertion). */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
}

static void *worker_main(void *arg)
{
    gw_worker *w = arg;
    gateway *g = w->g;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, loop, &g->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = g->globalconf.hosts;
    w->accept_ctx.ssl_ctx = g->ssl_ctx;
    int fd = dup(g->listen_fd);
    if (fd < 0) {
        atomic_store(&g->stopping, true);
        return NULL;
    }
    w->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    while (!atomic_load(&g->stopping))
        h2o_evloop_run(loop, 200);
    drain(w, loop);
    /* Connections still open past the shutdown timeout keep their memory;
     * the process is about to exit. */
    if (w->nconns == 0) {
        h2o_context_dispose(&w->ctx);
        h2o_evloop_destroy(loop);
    }
    return NULL;
}

static int start_workers(gateway *g)
{
    for (uint64_t i = 0; i < g->o.threads; i++) {
        gw_worker *w = &g->workers[i];
        w->g = g;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            fprintf(stderr, "httpa-gateway: cannot start thread %" PRIu64 "\n", i);
            atomic_store(&g->stopping, true);
            for (uint64_t k = 0; k < i; k++)
                pthread_join(g->workers[k].tid, NULL);
            return EXIT_RUNTIME;
        }
    }
    return 0;
}

/* The main thread: signals arrive through sigtimedwait (they are blocked in
 * every thread), periodic work runs between them. */
static void supervise(gateway *g, const sigset_t *set)
{
    struct timespec tick = {1, 0};
    time_t last_sweep = time(NULL);
    /* The sweep walks every base and replay entry (tens of milliseconds
     * with hundreds of thousands): at a low priority, a loop thread woken
     * by a request on the same CPU preempts it at once instead of waiting
     * out its time slice. Linux keeps a nice value per thread. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0)
        log_event(g, "warning", "cannot lower the priority of the sweeping thread");
    while (!atomic_load(&g->stopping)) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_event(g, "info", "shutting down: no new connections, finishing requests in flight");
            break;
        }
        time_t now = time(NULL);
        if (now - last_sweep >= 10) {
            httpa_server_sweep(g->srv, (int64_t)now);
            last_sweep = now;
        }
    }
    atomic_store(&g->stopping, true);
    for (uint64_t i = 0; i < g->o.threads; i++)
        pthread_join(g->workers[i].tid, NULL);
}

/* ---- main ---- */

static int open_log(gateway *g)
{
    const char *p = g->o.access_log;
    if (strcmp(p, "off") == 0)
        return 0;
    if (strcmp(p, "-") == 0) {
        g->log = stderr;
        return 0;
    }
    g->log = fopen(p, "a");
    if (g->log == NULL) {
        fprintf(stderr, "httpa-gateway: cannot open the access log %s: %s\n", p, strerror(errno));
        return EXIT_RUNTIME;
    }
    setvbuf(g->log, NULL, _IOLBF, 0);
    return 0;
}

static int run(gateway *g)
{
    sigset_t set;
    int rc;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every worker */
    signal(SIGPIPE, SIG_IGN);                /* a peer that went away is an error return */

    if ((rc = open_log(g)) != 0 || (rc = tee_open(g)) != 0 ||
        (rc = server_setup(g)) != 0)
        return rc;
    h2o_setup(g);
    if (g->o.tls_cert != NULL && (g->ssl_ctx = tls_context(&g->o)) == NULL)
        return EXIT_RUNTIME;
    if ((rc = register_handler(g)) != 0 || (rc = open_listener(g)) != 0 ||
        (rc = start_workers(g)) != 0)
        return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char where[INET6_ADDRSTRLEN + 8] = "?";
    if (getsockname(g->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
        h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, where);
    fprintf(stderr, "httpa-gateway: listening on %s port %d (%s), upstream %s, %" PRIu64 " threads\n",
            where, (int)h2o_socket_getport((struct sockaddr *)&ss), g->ssl_ctx != NULL ? "TLS, HTTP/2 and HTTP/1.1" : "cleartext HTTP/1.1 and HTTP/2",
            g->o.upstream, g->o.threads);
    log_event(g, "info", "started");
    supervise(g, &set);
    log_event(g, "info", "stopped");
    return 0;
}

static void cleanup(gateway *g)
{
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->has_globalconf)
        h2o_config_dispose(&g->globalconf); /* the workers are gone */
    httpa_keymgr_stop(g->keymgr); /* before the server it installs keys in */
    httpa_server_free(g->srv);
    httpa_dcap_collateral_free(g->client_col);
    httpa_dcap_trust_free(g->client_trust);
    httpa_policy_free(g->client_policy);
    httpa_tee_close(g->tee);
    if (g->curl_ready)
        curl_global_cleanup();
    SSL_CTX_free(g->ssl_ctx);
    if (g->log != NULL && g->log != stderr)
        fclose(g->log);
}

int main(int argc, char **argv)
{
    gateway *g = calloc(1, sizeof(*g)); /* large: per-thread h2o contexts */
    json_t *doc = NULL;
    int rc;

    if (g == NULL) {
        fprintf(stderr, "httpa-gateway: out of memory\n");
        return EXIT_RUNTIME;
    }
    opts_default(&g->o);
    g->listen_fd = -1;
    rc = parse_args(&g->o, argc, argv, &doc);
    if (rc == 'h' || rc == 'V') {
        if (rc == 'h')
            usage(stdout);
        else
            printf("httpa-gateway %s (h2o %s, %s)\n", GW_VERSION, H2O_VERSION,
                   OpenSSL_version(OPENSSL_VERSION));
        rc = 0;
    } else if (rc != 0 || (rc = validate(g)) != 0) {
        if (rc == '?')
            fprintf(stderr, "Try 'httpa-gateway --help'.\n");
        rc = EXIT_USAGE;
    } else if (g->o.test) {
        /* -t: everything but the port, the threads and the evidence itself */
        rc = g->o.tls_cert == NULL || (g->ssl_ctx = tls_context(&g->o)) != NULL ? 0 : EXIT_USAGE;
        if (rc == 0)
            rc = tee_check(&g->o);
        if (rc == 0)
            printf("httpa-gateway: the configuration is valid\n");
    } else if (g->o.ta != NULL && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "httpa-gateway: --ta: libcurl initialization failed\n");
        rc = EXIT_RUNTIME;
    } else {
        g->curl_ready = g->o.ta != NULL;
        rc = run(g);
    }
    cleanup(g);
    json_decref(doc);
    free(g);
    return rc;
}

static void usage(FILE *f)
{
    fputs(
"NAME\n"
"    httpa-gateway - HTTPA/2 terminator in front of an HTTP application, inside a TEE\n"
"\n"
"SYNOPSIS\n"
"    httpa-gateway --tee PROVIDER --upstream URL [OPTIONS]\n"
"    httpa-gateway -c FILE [OPTIONS]\n"
"    httpa-gateway -t [-c FILE] [OPTIONS]\n"
"\n"
"DESCRIPTION\n"
"    Runs inside the Trusted Execution Environment next to an unmodified HTTP\n"
"    application. It answers HTTPA/2 Preflights and Attest Handshakes (with\n"
"    evidence from the TEE), verifies every Attest Secret Provisioning and\n"
"    Trusted Transaction (ticket, replay window, Cargo, every body record),\n"
"    forwards the restored request to the upstream over loopback HTTP/1.1, and\n"
"    streams the upstream's response back protected, record by record.\n"
"    Requests that are not HTTPA get 403 policy_violation unless --passthrough.\n"
"    Clients reach it over HTTP/1.1 (keep-alive, chunked) or HTTP/2: over TLS\n"
"    with ALPN, or in cleartext with prior knowledge.\n"
"\n"
"    The upstream receives X-Httpa-Kind, X-Httpa-Base-Id and X-Httpa-Sealed\n"
"    (the names of the fields that were sealed, the only ones that are\n"
"    confidential and authenticated). Client fields named X-Httpa-* are dropped.\n"
"\n"
"OPTIONS\n"
"    --tee auto|tsm|gramine|sim\n"
"                            TEE evidence provider (required): tsm (Linux\n"
"                            configfs-tsm: TDX, SEV-SNP), gramine (SGX under\n"
"                            Gramine, /dev/attestation), auto (tsm, else gramine,\n"
"                            else refuse to start; never sim), or sim, a\n"
"                            SIMULATED TEE for development (loud warning).\n"
"                            The attested handshake key and its evidence are made\n"
"                            off the request path; fresh-mode handshakes quote\n"
"                            per handshake\n"
"    --tsm-root DIR          configfs-tsm report directory\n"
"                            (default /sys/kernel/config/tsm/report)\n"
"    --gramine-root DIR      Gramine attestation directory (default /dev/attestation)\n"
"    --ta URL                Trusted Authority (httpa-ta, docs/TA.md): staple its\n"
"                            token for the key's evidence in Attest-Quotes as a\n"
"                            format=eat entry next to the raw one (passport model).\n"
"                            If the TA fails, the raw evidence is served alone,\n"
"                            the failure is logged and retried within 30 s\n"
"    --ta-refresh S          new key, evidence and token every S seconds\n"
"                            (default 1200; keep it well inside the TA's token\n"
"                            lifetime)\n"
"    --ta-cacert FILE        CA bundle for an https:// --ta\n"
"    --upstream URL          the application: http://127.0.0.1:PORT,\n"
"                            http://[::1]:PORT or unix:/PATH. Loopback only:\n"
"                            plaintext never leaves the TEE.\n"
"    -l, --listen ADDR:PORT  where to listen (default 127.0.0.1:8443; *:PORT for all)\n"
"    --tls-cert FILE, --tls-key FILE\n"
"                            serve TLS (PEM chain and key); HTTP/2 via ALPN\n"
"    --threads N             event loops, one per core (default: cores online)\n"
"    --passthrough           forward non-HTTPA requests unprotected (plain-HTTP\n"
"                            baseline); default: 403 policy_violation\n"
"    --secrets-path PATH     where AtSP secrets are POSTed on the upstream\n"
"                            (default /.httpa/secrets); see docs/DEPLOYMENT.md\n"
"    --sim-seed HEX          64 hex digits: the sim attestation key seed\n"
"                            (default: random, printed public key)\n"
"    --sim-pubkey-out FILE   write the sim attestation public key (hex) to FILE\n"
"    --access-log FILE       JSON lines: - for stderr (default), off for none\n"
"    --port-file FILE        write the bound port (useful with port 0)\n"
"    --max-header-size N     octets of one request's fields (default 131072)\n"
"    --max-body N            plaintext octets of one body (default 16777216)\n"
"    --max-bases N           Attest Bases kept (default 100000)\n"
"    --max-connections N     open client connections (default 10000)\n"
"    --request-timeout S     HTTP/1.1 request and TLS handshake timeout (default 10)\n"
"    --idle-timeout S        HTTP/2 idle timeout (default 10)\n"
"    --upstream-timeout S    upstream connect and I/O timeout (default 30)\n"
"    --shutdown-timeout S    how long SIGTERM waits for requests (default 30)\n"
"    --expires S             Attest-Expires of new bases (default 3600)\n"
"    --route-tag HEX2        first octet of every Base-ID (profile 15.4 routing)\n"
"    --client-sim-key HEX|@FILE\n"
"                            mutual mode: accept client sim evidence signed by\n"
"                            this key (development only; a warning is printed)\n"
"    --client-collateral FILE  mutual mode: DCAP collateral for client sgx/tdx\n"
"    --client-policy FILE    appraisal policy for client sgx/tdx evidence\n"
"    --require-client-attestation\n"
"                            refuse handshakes without verified client evidence\n"
"                            (403 policy_violation); the upstream sees\n"
"                            X-Httpa-Client-Attested: sim|sgx|tdx\n"
"    --key-lifetime S        attested handshake key lifetime (default 86400;\n"
"                            rotated at half of it, or every --ta-refresh\n"
"                            seconds with --ta; the previous key kept)\n"
"    --record-size N         response record size RS (default 16384)\n"
"    -c, --config FILE       JSON object with the long option names as keys,\n"
"                            e.g. {\"upstream\":\"http://127.0.0.1:8080\",\"threads\":4};\n"
"                            flags override it\n"
"    -t, --test              check the configuration, and that the --tee\n"
"                            interface exists on this host, and exit\n"
"    -h, --help              this text;  --version  versions\n"
"\n"
"FILES\n"
"    The --config file, the --access-log file, --sim-pubkey-out, --port-file,\n"
"    and the PEM files of --tls-cert and --tls-key.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT  stop accepting, finish requests in flight (at most\n"
"                     --shutdown-timeout seconds), exit 0.\n"
"    SIGHUP           ignored.\n"
"\n"
"EXIT STATUS\n"
"    0  stopped after SIGTERM or SIGINT, or -t found the configuration valid\n"
"    1  runtime failure (cannot listen, no TEE, TEE or key failure)\n"
"    2  usage or configuration error\n"
"\n"
"EXAMPLES\n"
"    httpa-gateway --tee sim --sim-pubkey-out sim.pub --upstream http://127.0.0.1:8080\n"
"    httpa-gateway --tee sim --listen '*:443' --tls-cert cert.pem --tls-key key.pem \\\n"
"        --upstream unix:/run/app.sock --threads 4\n"
"    httpa-gateway --tee auto --ta https://ta.internal:8600 --ta-cacert ca.pem \\\n"
"        --upstream http://127.0.0.1:8080\n"
"    httpa-gateway -t -c /etc/httpa/gateway.json\n",
        f);
}
