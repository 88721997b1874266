/* TESTS ONLY: the PCS / PCCS v4 API over the sample collateral; see
 * pcs_server.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pcs_server.h"
#include "testlib.h"

#define MAX_ROUTES 8
#define HEAD_MAX 8192

typedef struct route {
    char target[128];
    httpa_buf body;
    const char *header;  /* issuer chain header name, or NULL */
    httpa_buf value;     /* its URL-encoded value */
} route;

struct tl_pcs_server {
    tl_pcs_opts o;
    int fd, stop_pipe[2];
    int port;
    char url[64];
    pthread_t thread;
    atomic_uint requests;
    route routes[MAX_ROUTES];
    size_t nroutes;
};

/* ---- Building the answers ---- */

static void url_encode(const char *s, httpa_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_' || c == '.' || c == '~';
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        assert_int_equal(plain ? httpa_buf_append_u8(out, c) : httpa_buf_append(out, esc, 3),
                         HTTPA_OK);
    }
}

static route *add_route(tl_pcs_server *s, const char *target, const char *header,
                        const char *chain)
{
    assert_true(s->nroutes < MAX_ROUTES);
    route *r = &s->routes[s->nroutes++];
    snprintf(r->target, sizeof(r->target), "%s", target);
    httpa_buf_init(&r->body, 4 << 20);
    httpa_buf_init(&r->value, 1 << 16);
    r->header = header;
    if (chain != NULL)
        url_encode(chain, &r->value);
    if (chain != NULL && s->o.bad_chain)
        assert_int_equal(httpa_buf_append_str(&r->value, "%G0"), HTTPA_OK);
    return r;
}

static void body_hex(route *r, const char *hex)
{
    httpa_buf b = tl_hex(hex);
    assert_int_equal(httpa_buf_append(&r->body, b.base, b.len), HTTPA_OK);
    httpa_buf_free(&b);
}

/* {"<name>":<exact signed text>,"signature":"<hex>"} */
static void body_signed(tl_pcs_server *s, route *r, const char *name, const char *text,
                        const char *sig)
{
    if (s->o.huge_body && strcmp(name, "tcbInfo") == 0) {
        uint8_t *w = NULL;
        assert_int_equal(httpa_buf_extend(&r->body, 2 << 20, &w), HTTPA_OK);
        memset(w, ' ', 2 << 20);
        return;
    }
    if (s->o.not_json && strcmp(name, "tcbInfo") == 0) {
        assert_int_equal(httpa_buf_append_str(&r->body, "{\"tcbInfo\":"), HTTPA_OK);
        return;
    }
    char head[64];
    snprintf(head, sizeof(head), "{\"%s\":", name);
    assert_int_equal(httpa_buf_append_str(&r->body, head), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&r->body, text), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&r->body, ",\"signature\":\""), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&r->body, sig), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&r->body, "\"}"), HTTPA_OK);
}

static void add_tee(tl_pcs_server *s, const char *tee, const char *ca, json_t *c)
{
    char target[128];
    json_t *tcb = json_loads(tl_str(c, "tcb_info"), 0, NULL);
    assert_non_null(tcb);
    const char *tcb_header = s->o.v3_tcb_header ? "SGX-TCB-Info-Issuer-Chain"
                                                : "TCB-Info-Issuer-Chain";

    snprintf(target, sizeof(target), "/sgx/certification/v4/pckcrl?ca=%s&encoding=der", ca);
    body_hex(add_route(s, target, "SGX-PCK-CRL-Issuer-Chain", tl_str(c, "pck_crl_issuer_chain")),
             tl_str(c, "pck_crl"));
    snprintf(target, sizeof(target), "/%s/certification/v4/tcb?fmspc=%s", tee,
             tl_str(tcb, "fmspc"));
    body_signed(s, add_route(s, target, tcb_header, tl_str(c, "tcb_info_issuer_chain")),
                "tcbInfo", tl_str(c, "tcb_info"), tl_str(c, "tcb_info_signature"));
    snprintf(target, sizeof(target), "/%s/certification/v4/qe/identity", tee);
    body_signed(s, add_route(s, target, "SGX-Enclave-Identity-Issuer-Chain",
                             tl_str(c, "qe_identity_issuer_chain")),
                "enclaveIdentity", tl_str(c, "qe_identity"), tl_str(c, "qe_identity_signature"));
    json_decref(tcb);
}

static void build_routes(tl_pcs_server *s)
{
    json_t *sgx = tl_load_json("vectors/dcap/sgx_quote_collateral.json");
    json_t *tdx = tl_load_json("vectors/dcap/tdx_quote_collateral.json");
    add_tee(s, "sgx", "processor", sgx); /* the SGX sample's PCK CA */
    add_tee(s, "tdx", "platform", tdx);
    route *r = add_route(s, "/sgx/certification/v4/rootcacrl", NULL, NULL);
    if (s->o.root_crl_hex)
        assert_int_equal(httpa_buf_append_str(&r->body, tl_str(sgx, "root_ca_crl")), HTTPA_OK);
    else
        body_hex(r, tl_str(sgx, "root_ca_crl"));
    json_decref(sgx);
    json_decref(tdx);
}

/* ---- Serving ---- */

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

static void respond(int fd, int status, const route *r)
{
    char head[512];
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
    size_t len = status == 200 && r != NULL ? r->body.len : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: "
                     "application/octet-stream\r\nConnection: close\r\n",
                     status, reason, len);
    bool ok = send_all(fd, head, (size_t)n);
    if (ok && r != NULL && r->header != NULL && status == 200) {
        n = snprintf(head, sizeof(head), "%s: ", r->header);
        ok = send_all(fd, head, (size_t)n) && send_all(fd, r->value.base, r->value.len)
             && send_all(fd, "\r\n", 2);
    }
    ok = ok && send_all(fd, "\r\n", 2);
    if (ok && len != 0)
        send_all(fd, r->body.base, len);
}

/* Read the request head (bounded, 2 s) and return the target. */
static bool read_target(int fd, char *target, size_t cap)
{
    char buf[HEAD_MAX + 1];
    size_t n = 0;
    while (n < HEAD_MAX) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return false;
        ssize_t k = recv(fd, buf + n, HEAD_MAX - n, 0);
        if (k <= 0)
            return false;
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    char method[8];
    return sscanf(buf, "%7s %127s HTTP/1.1", method, target) == 2 && strcmp(method, "GET") == 0
           && strlen(target) < cap;
}

static void serve_one(tl_pcs_server *s, int fd)
{
    char target[128] = "";
    if (!read_target(fd, target, sizeof(target)))
        return;
    atomic_fetch_add(&s->requests, 1u);
    if (s->o.status != 0) {
        respond(fd, s->o.status, NULL);
        return;
    }
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].target, target) == 0) {
            respond(fd, 200, &s->routes[i]);
            return;
        }
    respond(fd, 404, NULL);
}

static void *loop(void *arg)
{
    tl_pcs_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if ((p[0].revents & POLLIN) == 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

tl_pcs_server *tl_pcs_server_start(const tl_pcs_opts *opts)
{
    tl_pcs_server *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    if (opts != NULL)
        s->o = *opts;
    atomic_init(&s->requests, 0u);
    build_routes(s);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t alen = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    assert_int_equal(pipe(s->stop_pipe), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, loop, s), 0);
    return s;
}

int tl_pcs_server_port(const tl_pcs_server *s)
{
    return s->port;
}

const char *tl_pcs_server_url(const tl_pcs_server *s)
{
    return s->url;
}

unsigned tl_pcs_server_requests(tl_pcs_server *s)
{
    return atomic_load(&s->requests);
}

void tl_pcs_server_stop(tl_pcs_server *s)
{
    if (s == NULL)
        return;
    assert_int_equal(write(s->stop_pipe[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    for (size_t i = 0; i < s->nroutes; i++) {
        httpa_buf_free(&s->routes[i].body);
        httpa_buf_free(&s->routes[i].value);
    }
    free(s);
}
