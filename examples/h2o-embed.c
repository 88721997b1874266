/* h2o-embed: an application that serves HTTPA/2 itself, in one process,
 * through the h2o adapter (include/httpa/h2o.h) and an in-process handler.
 *
 * It is a tiny JSON API:
 *   GET  /api/hello   {"hello":"world","authorization_sealed":true|false}
 *   POST /api/echo    {"length":N,"body":<the JSON it received>}
 *   ATTEST (AtSP)     {"provisioned":N}   (secrets stay in this process)
 * Every answer is protected by the adapter: the handler sees only verified,
 * restored requests, and writes plain responses.
 *
 * The TEE is SIMULATED (sim evidence): it proves nothing about hardware.
 * Stop it with SIGTERM or SIGINT (read through a signalfd on the event
 * loop: no signal handler, no global state). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <h2o.h>
#pragma GCC diagnostic pop

#include "httpa/h2o.h"
#include "httpa/server.h"
#include "httpa/sim.h"

#define MEASUREMENT "h2o-embed example service v1...." /* 32 octets */

typedef struct app {
    httpa_sim_attester tee;
    httpa_server *srv;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    bool stop;
} app;

/* ---- the application: plain HTTP semantics, verified input ---- */

static void reply_json(httpa_h2o_exchange *x, int status, const char *json)
{
    httpa_msg resp;
    httpa_msg_init_response(&resp, status);
    if (httpa_msg_add_str(&resp, "Content-Type", "application/json") != HTTPA_OK ||
        httpa_h2o_respond(x, &resp, HTTPA_SPAN(json, strlen(json))) != HTTPA_OK)
        fprintf(stderr, "h2o-embed: cannot answer\n"); /* the adapter answers `internal` */
    httpa_msg_free(&resp);
}

static bool target_is(const httpa_msg *m, const char *method, const char *path)
{
    return httpa_name_eq(m->method, m->method_len, method, strlen(method)) &&
           m->target_len == strlen(path) && memcmp(m->target, path, m->target_len) == 0;
}

static void on_request(void *arg, httpa_h2o_exchange *x, const httpa_h2o_request *r)
{
    char out[8192];
    (void)arg;
    if (r->kind == HTTPA_TXN_ATSP) {
        snprintf(out, sizeof(out), "{\"provisioned\":%zu}", r->nsecrets);
        reply_json(x, 200, out);
    } else if (target_is(r->msg, "GET", "/api/hello")) {
        /* Trust a credential only when it came sealed (profile 9.4). */
        const httpa_header *auth = httpa_msg_find(r->msg, "authorization", 13);
        snprintf(out, sizeof(out), "{\"hello\":\"world\",\"authorization_sealed\":%s}",
                 auth != NULL && auth->sealed ? "true" : "false");
        reply_json(x, 200, out);
    } else if (target_is(r->msg, "POST", "/api/echo") && r->body.len < sizeof(out) - 64) {
        /* Every record of the body was verified before this call. */
        snprintf(out, sizeof(out), "{\"length\":%zu,\"body\":%.*s}", r->body.len,
                 (int)r->body.len, r->body.len ? (const char *)r->body.base : "null");
        reply_json(x, 200, out);
    } else {
        reply_json(x, 404, "{\"error\":\"not found\"}");
    }
}

/* ---- setup ---- */

static int fail(const char *what, httpa_err e)
{
    fprintf(stderr, "h2o-embed: %s: %s (%s)\n", what, httpa_strerror(e), httpa_err_name(e));
    return 1;
}

/* The simulated TEE and an attested handshake key bound by its evidence. */
static int setup_httpa(app *a, const char *pubkey_out)
{
    uint8_t pub[32], rd[HTTPA_REPORT_DATA_LEN];
    httpa_sign_key *key;
    httpa_buf ev;
    char hex[65];
    httpa_err e = httpa_sim_attester_init(&a->tee, NULL, (const uint8_t *)MEASUREMENT, 1, false);
    if (e != HTTPA_OK)
        return fail("simulated TEE", e);
    httpa_server_config cfg = {.attester = &a->tee.base};
    if ((e = httpa_server_new(&cfg, &a->srv)) != HTTPA_OK)
        return fail("server", e);
    int64_t not_after = (int64_t)time(NULL) + 86400;
    if ((e = httpa_sign_key_new(HTTPA_ED25519, NULL, 0, pub, &key)) != HTTPA_OK)
        return fail("key", e);
    httpa_buf_init(&ev, 65536);
    e = httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32), not_after, rd);
    if (e == HTTPA_OK)
        e = a->tee.base.quote(&a->tee.base, rd, &ev);
    httpa_key_evidence kev = {"sim", "raw", httpa_buf_span(&ev)};
    if (e == HTTPA_OK)
        e = httpa_server_add_key(a->srv, HTTPA_ED25519, key, HTTPA_SPAN(pub, 32), not_after, &kev, 1);
    else
        httpa_sign_key_free(key);
    httpa_buf_free(&ev);
    if (e != HTTPA_OK)
        return fail("attested key", e);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", a->tee.pub[i]);
    fprintf(stderr, "h2o-embed: WARNING: the TEE is SIMULATED; its evidence proves nothing about "
                    "hardware.\nh2o-embed: sim attestation public key: %s\n", hex);
    FILE *f = pubkey_out != NULL ? fopen(pubkey_out, "w") : NULL;
    if (f != NULL) { /* clients are configured with it */
        fprintf(f, "%s\n", hex);
        fclose(f);
    }
    return 0;
}

static int setup_h2o(app *a)
{
    h2o_config_init(&a->config);
    h2o_hostconf_t *host = h2o_config_register_host(&a->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    httpa_h2o_config hc = {.handler = on_request, .handler_arg = a, .access_log = stderr};
    httpa_err e = httpa_h2o_register(path, a->srv, &hc);
    return e == HTTPA_OK ? 0 : fail("h2o adapter", e);
}

/* ---- sockets ---- */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    app *a = listener->data;
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&a->accept_ctx, sock);
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    app *a = sock->data;
    (void)err;
    a->stop = true;
}

static int listen_on(const char *port_str, const char *port_file)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)atoi(port_str))};
    socklen_t len = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, SOMAXCONN) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        fprintf(stderr, "h2o-embed: cannot listen: %s\n", strerror(errno));
        return -1;
    }
    fprintf(stderr, "h2o-embed: serving HTTPA/2 on http://127.0.0.1:%d\n", ntohs(sa.sin_port));
    FILE *f = port_file != NULL ? fopen(port_file, "w") : NULL;
    if (f != NULL) {
        fprintf(f, "%d\n", ntohs(sa.sin_port));
        fclose(f);
    }
    return fd;
}

static int serve(app *a, int fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        return 1;

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
    fprintf(stderr, "h2o-embed: stopping\n");
    return 0; /* the process exits: the kernel closes what is still open */
}

int main(int argc, char **argv)
{
    const char *port = "8443", *port_file = NULL, *pubkey_out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = argv[++i];
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--sim-pubkey-out") == 0 && i + 1 < argc) {
            pubkey_out = argv[++i];
        } else {
            printf("usage: h2o-embed [--port N] [--port-file FILE] [--sim-pubkey-out FILE]\n\n"
                   "Serves a tiny JSON API over HTTPA/2 on 127.0.0.1 (port 0: any), with the\n"
                   "HTTPA terminator in-process (libh2o + include/httpa/h2o.h).\n"
                   "The TEE is SIMULATED: its evidence proves nothing about hardware.\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    app *a = calloc(1, sizeof(*a));
    if (a == NULL || setup_httpa(a, pubkey_out) != 0 || setup_h2o(a) != 0)
        return 1;
    int fd = listen_on(port, port_file);
    int rc = fd < 0 ? 1 : serve(a, fd);
    httpa_server_free(a->srv);
    httpa_sim_attester_clear(&a->tee);
    free(a);
    return rc;
}
