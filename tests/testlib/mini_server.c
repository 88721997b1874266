/* A tiny HTTPA/2 server for the network tests (see mini_server.h): minimal
 * HTTP/1.1 around the I/O-free server engine. Bodies stream in both
 * directions through fixed buffers, so a 256 MiB exchange costs no more
 * memory than a small one. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpa/server.h"
#include "httpa/sim.h"
#include "mini_server.h"

#define MAX_CONNS 256
#define HEAD_MAX (256 * 1024)
#define IO_BUF (64 * 1024)
#define ECHO_MAX (1024 * 1024)
#define MAX_RETIRED 16

struct mini_server {
    int lfd;
    unsigned short port;
    uint32_t expires;
    mini_server_opts opts;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    bool stopping;
    int fds[MAX_CONNS];
    unsigned active;
    httpa_sim_attester tee;
    httpa_server *srv;
    httpa_server *retired[MAX_RETIRED];
    size_t nretired;
    unsigned tamper;
    unsigned truncate;
    unsigned refuse;
    httpa_err refuse_err;
    mini_server_stats st;
    char secret_name[64];
    char secret_value[256];
};

typedef struct conn {
    mini_server *s;
    int fd;
    uint8_t buf[IO_BUF];
    size_t pos, len;
} conn;

/* How the request body is framed. */
typedef struct body_rd {
    conn *c;
    bool chunked;
    uint64_t left;   /* octets left: of the body, or of the current chunk */
    bool done;
    bool failed;
} body_rd;

static void event(mini_server *s, char ev)
{
    size_t n = strlen(s->st.events);
    if (n + 1 < sizeof(s->st.events))
        s->st.events[n] = ev;
}

/* ---- engine set-up ---- */

static httpa_err add_key(mini_server *s, httpa_server *srv)
{
    uint8_t pub[32], rd[HTTPA_REPORT_DATA_LEN];
    httpa_sign_key *key = NULL;
    httpa_buf ev;
    int64_t not_after = (int64_t)time(NULL) + 86400;
    httpa_buf_init(&ev, 4096);
    httpa_err e = httpa_sign_key_new(HTTPA_ED25519, NULL, 0, pub, &key);
    if (e == HTTPA_OK)
        e = httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32), not_after, rd);
    if (e == HTTPA_OK)
        e = s->tee.base.quote(&s->tee.base, rd, &ev);
    httpa_buf tok;
    httpa_buf_init(&tok, 65536);
    size_t nev = 1;
    if (e == HTTPA_OK && s->opts.staple != NULL &&
        s->opts.staple(s->opts.staple_arg, httpa_buf_span(&ev), &tok) == HTTPA_OK)
        nev = 2;
    if (e == HTTPA_OK) {
        httpa_key_evidence kev[2] = {{"sim", "raw", httpa_buf_span(&ev)},
                                     {"sim", "eat", httpa_buf_span(&tok)}};
        e = httpa_server_add_key(srv, HTTPA_ED25519, key, HTTPA_SPAN(pub, 32), not_after, kev, nev);
        key = NULL;
    }
    httpa_sign_key_free(key);
    httpa_buf_free(&ev);
    httpa_buf_free(&tok);
    return e;
}

static bool validate_secrets(void *arg, const char *const *names, const httpa_span *values,
                             size_t n)
{
    mini_server *s = arg;
    pthread_mutex_lock(&s->lock);
    event(s, 'S');
    s->st.provisions++;
    for (size_t i = 0; i < n; i++) {
        snprintf(s->secret_name, sizeof(s->secret_name), "%s", names[i]);
        size_t k = values[i].len < sizeof(s->secret_value) - 1 ? values[i].len
                                                               : sizeof(s->secret_value) - 1;
        memcpy(s->secret_value, values[i].base, k);
        s->secret_value[k] = '\0';
    }
    pthread_mutex_unlock(&s->lock);
    return true;
}

static httpa_server *new_engine(mini_server *s)
{
    httpa_server_config cfg = {.attester = &s->tee.base,
                               .expires = s->expires,
                               .validate_secrets = validate_secrets,
                               .validate_arg = s};
    httpa_server *srv = NULL;
    if (httpa_server_new(&cfg, &srv) != HTTPA_OK)
        return NULL;
    if (add_key(s, srv) != HTTPA_OK) {
        httpa_server_free(srv);
        return NULL;
    }
    return srv;
}

static httpa_server *engine(mini_server *s)
{
    pthread_mutex_lock(&s->lock);
    httpa_server *srv = s->srv;
    pthread_mutex_unlock(&s->lock);
    return srv;
}

/* ---- reading ---- */

static bool fill(conn *c)
{
    if (c->pos == c->len)
        c->pos = c->len = 0;
    if (c->len == sizeof(c->buf))
        return false;
    ssize_t n;
    do
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    return true;
}

/* One line without CRLF into out (cap octets). */
static bool read_line(conn *c, char *out, size_t cap, size_t *n)
{
    size_t k = 0;
    for (;;) {
        while (c->pos < c->len) {
            char ch = (char)c->buf[c->pos++];
            if (ch == '\n') {
                if (k != 0 && out[k - 1] == '\r')
                    k--;
                out[k] = '\0';
                *n = k;
                return true;
            }
            if (k + 1 >= cap)
                return false;
            out[k++] = ch;
        }
        if (!fill(c))
            return false;
    }
}

static bool header_line(httpa_msg *m, body_rd *b, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return false;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (httpa_name_eq(line, nl, "content-length", 14))
        b->left = strtoull(v, NULL, 10);
    if (httpa_name_eq(line, nl, "transfer-encoding", 17))
        b->chunked = true;
    return httpa_msg_add(m, line, nl, v, (size_t)(end - v)) == HTTPA_OK;
}

/* Request line and header section. */
static bool read_head(conn *c, httpa_msg *m, body_rd *b)
{
    static _Thread_local char line[HEAD_MAX];
    size_t n, total = 0;
    if (!read_line(c, line, sizeof(line), &n) || n == 0)
        return false;
    char *sp1 = memchr(line, ' ', n);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
    if (sp2 == NULL ||
        httpa_msg_set_request_line(m, line, (size_t)(sp1 - line), sp1 + 1,
                                   (size_t)(sp2 - sp1 - 1)) != HTTPA_OK)
        return false;
    memset(b, 0, sizeof(*b));
    b->c = c;
    for (;;) {
        if (!read_line(c, line, sizeof(line), &n) || (total += n) > HEAD_MAX)
            return false;
        if (n == 0)
            break;
        if (!header_line(m, b, line, n))
            return false;
    }
    if (b->chunked)
        b->left = 0;
    b->done = !b->chunked && b->left == 0;
    return true;
}

static bool next_chunk(body_rd *b)
{
    char line[256];
    size_t n;
    if (!read_line(b->c, line, sizeof(line), &n))
        return false;
    b->left = strtoull(line, NULL, 16);
    if (b->left != 0)
        return true;
    do /* trailers */
        if (!read_line(b->c, line, sizeof(line), &n))
            return false;
    while (n != 0);
    b->done = true;
    return true;
}

/* Up to `cap` body octets into `out`; 0 at the end. */
static size_t body_read(body_rd *b, uint8_t *out, size_t cap)
{
    conn *c = b->c;
    if (b->done || b->failed)
        return 0;
    if (b->chunked && b->left == 0 && !next_chunk(b)) {
        b->failed = true;
        return 0;
    }
    if (b->done)
        return 0;
    if (c->pos == c->len && !fill(c)) {
        b->failed = true;
        return 0;
    }
    size_t k = c->len - c->pos;
    if (k > cap)
        k = cap;
    if (k > b->left)
        k = (size_t)b->left;
    memcpy(out, c->buf + c->pos, k);
    c->pos += k;
    b->left -= k;
    if (b->left == 0 && b->chunked) {
        char crlf[4];
        size_t n;
        if (!read_line(c, crlf, sizeof(crlf), &n) || n != 0)
            b->failed = true;
    } else if (b->left == 0) {
        b->done = true;
    }
    return k;
}

static uint64_t drain(body_rd *b)
{
    static _Thread_local uint8_t sink[IO_BUF];
    uint64_t total = 0;
    size_t k;
    while ((k = body_read(b, sink, sizeof(sink))) != 0)
        total += k;
    return total;
}

/* ---- writing ---- */

static bool write_all(conn *c, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n != 0) {
        ssize_t k = send(c->fd, q, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        q += k;
        n -= (size_t)k;
    }
    return true;
}

static bool write_head(conn *c, const httpa_msg *m, bool *chunked)
{
    char line[64];
    httpa_buf h;
    bool ok;
    *chunked = false;
    httpa_buf_init(&h, 1 << 20);
    snprintf(line, sizeof(line), "HTTP/1.1 %d X\r\n", m->status);
    ok = httpa_buf_append_str(&h, line) == HTTPA_OK;
    for (size_t i = 0; ok && i < m->nheaders; i++) {
        const httpa_header *x = &m->headers[i];
        *chunked |= httpa_name_eq(x->name, x->name_len, "transfer-encoding", 17);
        ok = httpa_buf_append(&h, x->name, x->name_len) == HTTPA_OK &&
             httpa_buf_append_str(&h, ": ") == HTTPA_OK &&
             httpa_buf_append(&h, x->value, x->value_len) == HTTPA_OK &&
             httpa_buf_append_str(&h, "\r\n") == HTTPA_OK;
    }
    ok = ok && httpa_buf_append_str(&h, "\r\n") == HTTPA_OK && write_all(c, h.base, h.len);
    httpa_buf_free(&h);
    return ok;
}

static bool write_piece(conn *c, bool chunked, const uint8_t *p, size_t n)
{
    char size[32];
    if (n == 0)
        return true;
    if (!chunked)
        return write_all(c, p, n);
    snprintf(size, sizeof(size), "%zx\r\n", n);
    return write_all(c, size, strlen(size)) && write_all(c, p, n) && write_all(c, "\r\n", 2);
}

/* A response whose content is all in `body`. */
static bool send_buffered(conn *c, httpa_msg *resp, const httpa_buf *body)
{
    char len[32];
    bool chunked;
    httpa_msg_remove(resp, "content-length", 14);
    httpa_msg_remove(resp, "transfer-encoding", 17);
    snprintf(len, sizeof(len), "%zu", body->len);
    return httpa_msg_add_str(resp, "Content-Length", len) == HTTPA_OK &&
           write_head(c, resp, &chunked) && write_all(c, body->base, body->len);
}

/* ---- the application ---- */

typedef struct app {
    int status;
    const char *route;
    uint64_t received;
    uint64_t bad;
    httpa_buf echo;
    uint64_t download;    /* octets to send */
    bool declared;
    char text[256];
} app;

static void consume(app *a, const httpa_buf *plain)
{
    if (strcmp(a->route, "upload") == 0) {
        for (size_t i = 0; i < plain->len; i++)
            a->bad += plain->base[i] != mini_pattern(a->received + i);
    } else if (strcmp(a->route, "echo") == 0) {
        if (httpa_buf_append(&a->echo, plain->base, plain->len) != HTTPA_OK)
            a->bad++;
    }
    a->received += plain->len;
}

static void route(app *a, const httpa_msg *req)
{
    const char *t = req->target;
    a->status = 200;
    if (strcmp(t, "/hello") == 0) {
        a->route = "hello";
    } else if (strcmp(t, "/echo") == 0) {
        a->route = "echo";
    } else if (strcmp(t, "/upload") == 0) {
        a->route = "upload";
    } else if (strncmp(t, "/download/", 10) == 0) {
        a->route = "download";
        a->download = strtoull(t + 10, NULL, 10);
        a->declared = strstr(t, "?declared") != NULL;
    } else {
        a->route = "none";
        a->status = 404;
    }
}

/* The request body through the engine's record opener. */
static httpa_err read_body(httpa_server_txn *t, body_rd *b, app *a)
{
    static _Thread_local uint8_t wire[IO_BUF];
    httpa_buf plain;
    httpa_buf_init(&plain, 4 * IO_BUF);
    httpa_err e = HTTPA_OK;
    for (;;) {
        size_t k = body_read(b, wire, sizeof(wire));
        if (b->failed) {
            e = HTTPA_ERR_BAD_REQUEST;
            break;
        }
        httpa_buf_reset(&plain);
        e = httpa_server_txn_body(t, HTTPA_SPAN(wire, k), k == 0, &plain);
        if (e != HTTPA_OK)
            break;
        consume(a, &plain);
        if (k == 0)
            break;
    }
    httpa_buf_free(&plain);
    return e;
}

static const char *auth_state(const httpa_msg *req)
{
    const httpa_header *h = httpa_msg_find(req, "authorization", 13);
    return h == NULL ? "none" : h->sealed ? "sealed" : "clear";
}

/* Take one from a test's fault counter. */
static bool armed(mini_server *s, unsigned *counter)
{
    pthread_mutex_lock(&s->lock);
    bool on = *counter != 0;
    if (on)
        (*counter)--;
    pthread_mutex_unlock(&s->lock);
    return on;
}

/* The error a test armed with mini_server_refuse, or HTTPA_OK. */
static httpa_err refusal(mini_server *s)
{
    pthread_mutex_lock(&s->lock);
    httpa_err e = s->refuse != 0 ? s->refuse_err : HTTPA_OK;
    if (s->refuse != 0)
        s->refuse--;
    pthread_mutex_unlock(&s->lock);
    return e;
}

static void tamper(mini_server *s, httpa_msg *resp)
{
    bool flip = armed(s, &s->tamper);
    for (size_t i = 0; flip && i < resp->nheaders; i++) {
        httpa_header *h = &resp->headers[i];
        if (httpa_name_eq(h->name, h->name_len, "attest-binder", 13) && h->value_len > 30)
            h->value[20] = h->value[20] == 'A' ? 'B' : 'A'; /* a MAC octet, still base64 */
    }
}

/* The response head, protected. */
static httpa_err respond_head(httpa_server_txn *t, app *a, const httpa_msg *req, httpa_msg *resp)
{
    httpa_seal_opts o = {.has_body = true};
    httpa_err e = HTTPA_OK;
    httpa_msg_init_response(resp, a->status);
    if (strcmp(a->route, "hello") == 0) {
        snprintf(a->text, sizeof(a->text), "hello %s %s", req->method, req->target);
        e = httpa_msg_add_str(resp, "Set-Cookie", "s=1; Secure; HttpOnly");
        if (e == HTTPA_OK)
            e = httpa_msg_add_str(resp, "X-Auth", auth_state(req));
    } else if (strcmp(a->route, "upload") == 0) {
        snprintf(a->text, sizeof(a->text), "len=%" PRIu64 " bad=%" PRIu64, a->received, a->bad);
    } else if (strcmp(a->route, "none") == 0) {
        snprintf(a->text, sizeof(a->text), "not found");
    }
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(resp, "Content-Type", "text/plain");
    if (strcmp(a->route, "download") == 0)
        o.content_length = a->declared ? a->download : UINT64_MAX;
    else if (strcmp(a->route, "echo") == 0)
        o.content_length = a->echo.len;
    else
        o.content_length = strlen(a->text);
    if (e == HTTPA_OK)
        e = httpa_server_txn_respond(t, resp, &o);
    return e;
}

static bool send_sealed(conn *c, httpa_server_txn *t, bool chunked, httpa_span plain, bool fin,
                        httpa_buf *wire)
{
    httpa_buf_reset(wire);
    return httpa_server_txn_seal(t, plain, fin, wire) == HTTPA_OK &&
           write_piece(c, chunked, wire->base, wire->len);
}

static bool respond_body(conn *c, httpa_server_txn *t, app *a, bool chunked)
{
    static _Thread_local uint8_t chunk[IO_BUF];
    httpa_buf wire;
    bool ok = true;
    httpa_buf_init(&wire, 4 * IO_BUF);
    if (strcmp(a->route, "download") == 0) {
        for (uint64_t off = 0; ok && off < a->download;) {
            size_t k = a->download - off < sizeof(chunk) ? (size_t)(a->download - off)
                                                         : sizeof(chunk);
            for (size_t i = 0; i < k; i++)
                chunk[i] = mini_pattern(off + i);
            ok = send_sealed(c, t, chunked, HTTPA_SPAN(chunk, k), false, &wire);
            off += k;
        }
    } else if (strcmp(a->route, "echo") == 0) {
        ok = send_sealed(c, t, chunked, httpa_buf_span(&a->echo), false, &wire);
    } else {
        ok = send_sealed(c, t, chunked, HTTPA_SPAN(a->text, strlen(a->text)), false, &wire);
    }
    bool cut = strcmp(a->route, "download") == 0 && armed(c->s, &c->s->truncate);
    ok = ok && (cut || send_sealed(c, t, chunked, HTTPA_SPAN(NULL, 0), true, &wire));
    if (ok && chunked)
        ok = write_all(c, "0\r\n\r\n", 5);
    httpa_buf_free(&wire);
    return ok;
}

static bool run_app(conn *c, httpa_server_txn *t, httpa_msg *req, body_rd *b)
{
    app a;
    httpa_msg resp;
    httpa_buf body;
    bool chunked, ok;
    memset(&a, 0, sizeof(a));
    httpa_buf_init(&a.echo, ECHO_MAX);
    httpa_buf_init(&body, 1 << 20);
    route(&a, req);
    httpa_err e = read_body(t, b, &a);
    if (e == HTTPA_OK)
        e = refusal(c->s);
    if (e != HTTPA_OK) { /* authenticated error (bad_request), then close */
        httpa_msg_init_response(&resp, 400);
        if (httpa_server_txn_error(t, e, "request body", &resp, &body) == HTTPA_OK &&
            !send_buffered(c, &resp, &body))
            fprintf(stderr, "mini_server: cannot send the error response\n");
        ok = false;
    } else {
        e = respond_head(t, &a, req, &resp);
        if (e == HTTPA_OK)
            tamper(c->s, &resp);
        ok = e == HTTPA_OK && write_head(c, &resp, &chunked) && respond_body(c, t, &a, chunked);
    }
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_buf_free(&a.echo);
    return ok;
}

/* AtSP: the secrets were validated in httpa_server_open; answer 200. */
static bool run_atsp(conn *c, httpa_server_txn *t, body_rd *b)
{
    httpa_msg resp;
    bool chunked;
    httpa_seal_opts o = {.has_body = false};
    drain(b);
    httpa_msg_init_response(&resp, 200);
    httpa_err e = httpa_server_txn_respond(t, &resp, &o);
    bool ok = e == HTTPA_OK && write_head(c, &resp, &chunked);
    httpa_msg_free(&resp);
    return ok;
}

/* ---- dispatch ---- */

static void count(mini_server *s, unsigned *counter, char ev)
{
    pthread_mutex_lock(&s->lock);
    (*counter)++;
    event(s, ev);
    pthread_mutex_unlock(&s->lock);
}

static bool serve_engine(conn *c, httpa_msg *req, body_rd *b, httpa_msg *resp, httpa_buf *body)
{
    mini_server *s = c->s;
    httpa_server *srv = engine(s);
    int64_t now = (int64_t)time(NULL);
    httpa_server_txn *t = NULL;
    switch (httpa_server_classify(req)) {
    case HTTPA_TXN_PREFLIGHT:
        drain(b);
        if (httpa_server_preflight(srv, req, true, resp, body) == HTTPA_OK)
            count(s, &s->st.preflights, 'P');
        return send_buffered(c, resp, body);
    case HTTPA_TXN_ATHS:
        if (httpa_server_handshake(srv, req, drain(b), now, resp, body) == HTTPA_OK)
            count(s, &s->st.handshakes, 'H');
        return send_buffered(c, resp, body);
    case HTTPA_TXN_ATSP:
    case HTTPA_TXN_TRT:
    case HTTPA_TXN_UTR:
    case HTTPA_TXN_INVALID:
        break;
    case HTTPA_TXN_PLAIN:
        drain(b);
        return httpa_error_response(HTTPA_ERR_POLICY_VIOLATION, "HTTPA required", resp, body) ==
                   HTTPA_OK &&
               send_buffered(c, resp, body);
    }
    bool atsp = httpa_server_classify(req) == HTTPA_TXN_ATSP;
    if (httpa_server_open(srv, req, now, &t, resp, body) != HTTPA_OK || t == NULL) {
        count(s, &s->st.refused, 'R');
        drain(b);
        return send_buffered(c, resp, body);
    }
    bool ok;
    if (atsp) {
        ok = run_atsp(c, t, b);
    } else {
        pthread_mutex_lock(&s->lock);
        s->st.trusted++;
        event(s, 'T');
        snprintf(s->st.last_auth, sizeof(s->st.last_auth), "%s", auth_state(req));
        pthread_mutex_unlock(&s->lock);
        ok = run_app(c, t, req, b);
    }
    httpa_server_txn_free(t);
    return ok;
}

static bool serve_one(conn *c)
{
    httpa_msg req, resp;
    httpa_buf body;
    body_rd b;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 1 << 20);
    bool ok = read_head(c, &req, &b) && serve_engine(c, &req, &b, &resp, &body) && !b.failed;
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    return ok;
}

/* ---- threads ---- */

static void *conn_main(void *arg)
{
    conn *c = arg;
    mini_server *s = c->s;
    while (serve_one(c)) {
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (s->fds[i] == c->fd)
            s->fds[i] = -1;
    close(c->fd);
    s->active--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    free(c);
    return NULL;
}

static bool track(mini_server *s, int fd)
{
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; !s->stopping && i < MAX_CONNS && !ok; i++)
        if (s->fds[i] == -1) {
            s->fds[i] = fd;
            s->active++;
            s->st.connections++;
            ok = true;
        }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void *accept_main(void *arg)
{
    mini_server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        conn *c = calloc(1, sizeof(*c));
        pthread_t th;
        if (c == NULL || !track(s, fd)) {
            free(c);
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        if (pthread_create(&th, NULL, conn_main, c) != 0) {
            close(fd); /* conn_main never runs: undo track() */
            pthread_mutex_lock(&s->lock);
            for (size_t i = 0; i < MAX_CONNS; i++)
                if (s->fds[i] == fd)
                    s->fds[i] = -1;
            s->active--;
            pthread_mutex_unlock(&s->lock);
            free(c);
            continue;
        }
        pthread_detach(th);
    }
}

static bool listen_local(mini_server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 64) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    return true;
}

mini_server *mini_server_start(const mini_server_opts *opts)
{
    static const uint8_t seed[32] = "mini-server simulated TEE key..";
    static const uint8_t measurement[32] = "mini-server service image v1...";
    mini_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->lfd = -1;
    s->expires = opts != NULL ? opts->expires : 0;
    if (opts != NULL)
        s->opts = *opts;
    for (size_t i = 0; i < MAX_CONNS; i++)
        s->fds[i] = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (httpa_sim_attester_init(&s->tee, seed, measurement, 1, false) != HTTPA_OK ||
        (s->srv = new_engine(s)) == NULL || !listen_local(s) ||
        pthread_create(&s->acceptor, NULL, accept_main, s) != 0) {
        fprintf(stderr, "mini_server: cannot start\n");
        if (s->lfd >= 0)
            close(s->lfd);
        httpa_server_free(s->srv);
        httpa_sim_attester_clear(&s->tee);
        free(s);
        return NULL;
    }
    return s;
}

void mini_server_stop(mini_server *s)
{
    if (s == NULL)
        return;
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (s->fds[i] != -1)
            shutdown(s->fds[i], SHUT_RDWR);
    while (s->active != 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->nretired; i++)
        httpa_server_free(s->retired[i]);
    httpa_server_free(s->srv);
    httpa_sim_attester_clear(&s->tee);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

unsigned short mini_server_port(const mini_server *s)
{
    return s->port;
}

const uint8_t *mini_server_sim_key(const mini_server *s)
{
    return s->tee.pub;
}

void mini_server_forget(mini_server *s)
{
    httpa_server *fresh = new_engine(s);
    if (fresh == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->nretired < MAX_RETIRED) { /* in-flight transactions may still use it */
        s->retired[s->nretired++] = s->srv;
        s->srv = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    httpa_server_free(fresh);
}

void mini_server_refuse(mini_server *s, unsigned n, httpa_err err)
{
    pthread_mutex_lock(&s->lock);
    s->refuse = n;
    s->refuse_err = err;
    pthread_mutex_unlock(&s->lock);
}

void mini_server_tamper(mini_server *s, unsigned n)
{
    pthread_mutex_lock(&s->lock);
    s->tamper = n;
    pthread_mutex_unlock(&s->lock);
}

void mini_server_truncate(mini_server *s, unsigned n)
{
    pthread_mutex_lock(&s->lock);
    s->truncate = n;
    pthread_mutex_unlock(&s->lock);
}

void mini_server_stats_get(mini_server *s, mini_server_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    pthread_mutex_unlock(&s->lock);
}

bool mini_server_secret(mini_server *s, const char *name, char *out, size_t cap)
{
    pthread_mutex_lock(&s->lock);
    bool found = strcmp(s->secret_name, name) == 0 && s->secret_name[0] != '\0';
    if (found)
        snprintf(out, cap, "%s", s->secret_value);
    pthread_mutex_unlock(&s->lock);
    return found;
}
