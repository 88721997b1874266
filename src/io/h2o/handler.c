/* The h2o handler of the HTTPA/2 terminator: copies each request into an
 * httpa_msg, classifies it (profile 3.3) and runs it through the engine:
 * Preflight, AtHS, or AtSP/TrT (open, verify every body record, hand the
 * restored request to the application or the upstream). Protocol decisions
 * stay in the engine; this file only translates. */
#include <stdlib.h>
#include <string.h>

#include "adapter.h"

#define DEFAULT_MAX_BODY ((uint64_t)16 << 20)
#define DEFAULT_MAX_HEADER_BYTES 131072
#define DEFAULT_UPSTREAM_TIMEOUT_MS 30000
#define DEFAULT_UPSTREAM_IDLE 16
#define DEFAULT_SECRETS_PATH "/.httpa/secrets"

static void copy_trunc(char *dst, size_t cap, const char *src, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    if (n != 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The Attest-Base-ID (for the log and the upstream): the sf-string's
 * content, kept only when it looks like a UUID. */
static void take_base_id(httpa_h2o_exchange *x, const httpa_msg *m)
{
    const httpa_header *f = httpa_msg_find(m, "attest-base-id", 14);
    if (f == NULL)
        return;
    const char *v = f->value;
    size_t n = f->value_len;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (n == 0 || n > 36)
        return;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') || v[i] == '-'))
            return;
    copy_trunc(x->base_id, sizeof(x->base_id), v, n);
}

static bool has_header(const h2o_req_t *req, const char *name, size_t len)
{
    for (size_t i = 0; i < req->headers.size; i++)
        if (httpa_name_eq(req->headers.entries[i].name->base, req->headers.entries[i].name->len,
                          name, len))
            return true;
    return false;
}

/* The request as the engine sees it: method and target exactly as sent,
 * Host (h2o keeps the authority apart), then every field line. */
static httpa_err request_msg(httpa_h2o_exchange *x)
{
    h2o_req_t *req = x->req;
    size_t total = req->input.method.len + req->input.path.len;
    httpa_err e = httpa_msg_set_request_line(&x->msg, req->input.method.base,
                                             req->input.method.len, req->input.path.base,
                                             req->input.path.len);
    if (e == HTTPA_OK && req->input.authority.len != 0 && !has_header(req, "host", 4))
        e = httpa_msg_add(&x->msg, "host", 4, req->input.authority.base, req->input.authority.len);
    for (size_t i = 0; i < req->headers.size && e == HTTPA_OK; i++) {
        const h2o_header_t *f = &req->headers.entries[i];
        total += f->name->len + f->value.len;
        if (total > x->h->cfg.max_header_bytes)
            return HTTPA_ERR_TOO_LARGE;
        e = httpa_msg_add(&x->msg, f->name->base, f->name->len, f->value.base, f->value.len);
    }
    return e;
}

/* ---- transactions ---- */

static void answer(httpa_h2o_exchange *x, httpa_err e, const httpa_msg *resp, const httpa_buf *body)
{
    if (resp->status != 0)
        hx_send_msg(x, resp, httpa_buf_span(body));
    else
        hx_error(x, e, NULL);
}

static void do_preflight(httpa_h2o_exchange *x)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    httpa_err e = httpa_server_preflight(x->h->srv, &x->msg, !x->h->cfg.refuse_attest, &resp, &body);
    answer(x, e, &resp, &body);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

static void do_handshake(httpa_h2o_exchange *x)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 1 << 20);
    httpa_err e = httpa_server_handshake(x->h->srv, &x->msg, x->req->entity.len,
                                         (int64_t)time(NULL), &resp, &body);
    if (e == HTTPA_OK)
        take_base_id(x, &resp);
    answer(x, e, &resp, &body);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

/* The verified request goes to the in-process application or upstream. */
static void deliver(httpa_h2o_exchange *x)
{
    const httpa_h2o_config *cfg = &x->h->cfg;
    if (cfg->handler == NULL) {
        x->route = x->kind == HTTPA_TXN_ATSP ? HX_ROUTE_SECRETS
                   : x->kind == HTTPA_TXN_PLAIN ? HX_ROUTE_PLAIN : HX_ROUTE_TRT;
        hx_forward(x);
        return;
    }
    httpa_h2o_request r = {.kind = x->kind, .msg = &x->msg};
    if (x->kind == HTTPA_TXN_PLAIN) {
        r.body = HTTPA_SPAN(x->req->entity.base, x->req->entity.len);
    } else {
        r.body = httpa_buf_span(&x->plain);
        r.base_id = x->base_id;
        r.nsecrets = httpa_server_txn_secrets(x->txn, &r.secret_names, &r.secret_values);
    }
    cfg->handler(cfg->handler_arg, x, &r);
    if (!x->responded && !x->started)
        hx_error(x, HTTPA_ERR_INTERNAL, "the application did not answer");
}

static void do_open(httpa_h2o_exchange *x)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    take_base_id(x, &x->msg); /* open removes the Attest-* fields */
    httpa_err e = httpa_server_open(x->h->srv, &x->msg, (int64_t)time(NULL), &x->txn, &resp, &body);
    if (e != HTTPA_OK || x->txn == NULL) {
        x->txn = NULL;
        answer(x, e != HTTPA_OK ? e : HTTPA_ERR_INTERNAL, &resp, &body);
    }
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    if (x->txn == NULL)
        return;
    x->protect = true;
    x->head_request = httpa_name_eq(x->msg.method, x->msg.method_len, "HEAD", 4);
    /* h2o 2.2 has the whole body already: every record is verified before
     * the application sees an octet of it (profile 9.2). */
    e = httpa_server_txn_body(x->txn, HTTPA_SPAN(x->req->entity.base, x->req->entity.len), true,
                              &x->plain);
    if (e != HTTPA_OK) {
        hx_error(x, e, "the request body did not verify");
        return;
    }
    deliver(x);
}

static void do_plain(httpa_h2o_exchange *x)
{
    if (!x->h->cfg.passthrough) {
        hx_error(x, HTTPA_ERR_POLICY_VIOLATION, "this resource requires HTTPA/2");
        return;
    }
    x->head_request = httpa_name_eq(x->msg.method, x->msg.method_len, "HEAD", 4);
    deliver(x);
}

static void init_exchange(httpa_h2o_exchange *x, hh_handler *h, h2o_req_t *req)
{
    memset(x, 0, sizeof(*x));
    x->req = req;
    x->h = h;
    x->c = h2o_context_get_handler_context(req->conn->ctx, &h->super);
    clock_gettime(CLOCK_MONOTONIC, &x->t0);
    httpa_msg_init_request(&x->msg);
    httpa_buf_init_sensitive(&x->plain, (size_t)h->cfg.max_body);
    httpa_buf_init_sensitive(&x->up_head, h->cfg.max_header_bytes + 4096);
    httpa_buf_init_sensitive(&x->up_body, 1 << 22);
    httpa_buf_init(&x->out[0], HX_OUT_MAX);
    httpa_buf_init(&x->out[1], HX_OUT_MAX);
    copy_trunc(x->method, sizeof(x->method), req->input.method.base, req->input.method.len);
    copy_trunc(x->target, sizeof(x->target), req->input.path.base, req->input.path.len);
    x->body_in = req->entity.len;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    hh_handler *h = (hh_handler *)self;
    httpa_h2o_exchange *x = h2o_mem_alloc_shared(&req->pool, sizeof(*x), hx_dispose);
    init_exchange(x, h, req);

    httpa_err e = request_msg(x);
    if (e != HTTPA_OK) {
        hx_error(x, e == HTTPA_ERR_TOO_LARGE ? e : HTTPA_ERR_BAD_REQUEST,
                 "the request header section cannot be processed");
        return 0;
    }
    x->kind = httpa_server_classify(&x->msg);
    switch (x->kind) {
    case HTTPA_TXN_PREFLIGHT:
        do_preflight(x);
        break;
    case HTTPA_TXN_ATHS:
        do_handshake(x);
        break;
    case HTTPA_TXN_ATSP:
    case HTTPA_TXN_TRT:
    case HTTPA_TXN_UTR:
        do_open(x);
        break;
    case HTTPA_TXN_INVALID:
        hx_error(x, HTTPA_ERR_BAD_REQUEST, "Attest-Ticket without Attest-Base-ID, or CONNECT");
        break;
    case HTTPA_TXN_PLAIN:
        do_plain(x);
        break;
    }
    return 0;
}

/* ---- registration ---- */

static void on_context_init(h2o_handler_t *self, h2o_context_t *ctx)
{
    hh_handler *h = (hh_handler *)self;
    hh_ctx *c = h2o_mem_alloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    if (h->has_upstream) {
        up_pool_init(&c->pool, ctx->loop, &h->addr, h->cfg.upstream_timeout_ms,
                     h->cfg.upstream_idle);
        c->has_pool = true;
    }
    h2o_context_set_handler_context(ctx, self, c);
}

static void on_context_dispose(h2o_handler_t *self, h2o_context_t *ctx)
{
    hh_ctx *c = h2o_context_get_handler_context(ctx, self);
    if (c == NULL)
        return;
    if (c->has_pool)
        up_pool_dispose(&c->pool);
    free(c);
}

static void on_dispose(h2o_handler_t *self)
{
    hh_handler *h = (hh_handler *)self;
    free(h->upstream);
    free(h->secrets_path);
}

httpa_err httpa_h2o_upstream_check(const char *url, const char **why)
{
    up_addr addr;
    const char *w = up_addr_parse(url, &addr);
    if (why != NULL)
        *why = w;
    return w == NULL ? HTTPA_OK : HTTPA_ERR_INVALID_ARG;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

httpa_err httpa_h2o_register(struct st_h2o_pathconf_t *path, httpa_server *srv,
                             const httpa_h2o_config *cfg)
{
    up_addr addr;
    const char *secrets = cfg != NULL && cfg->secrets_path ? cfg->secrets_path : DEFAULT_SECRETS_PATH;

    if (path == NULL || srv == NULL || cfg == NULL || secrets[0] != '/' ||
        strpbrk(secrets, " \r\n") != NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (cfg->handler == NULL && up_addr_parse(cfg->upstream, &addr) != NULL)
        return HTTPA_ERR_INVALID_ARG;

    /* Streamed answers of unknown length need HTTP/1.1 chunking, which h2o
     * 2.2 does in a filter (without it, it closes the connection instead). */
    h2o_chunked_register(path);
    hh_handler *h = (hh_handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->super.on_context_init = on_context_init;
    h->super.on_context_dispose = on_context_dispose;
    h->super.dispose = on_dispose;
    h->srv = srv;
    h->cfg = *cfg;
    h->upstream = dup_or_null(cfg->upstream);
    h->secrets_path = strdup(secrets);
    if ((cfg->upstream != NULL && h->upstream == NULL) || h->secrets_path == NULL)
        return HTTPA_ERR_NOMEM; /* the handler stays registered but unusable */
    h->cfg.upstream = h->upstream;
    h->cfg.secrets_path = h->secrets_path;
    if (h->cfg.max_body == 0)
        h->cfg.max_body = DEFAULT_MAX_BODY;
    if (h->cfg.max_header_bytes == 0)
        h->cfg.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    if (h->cfg.upstream_timeout_ms == 0)
        h->cfg.upstream_timeout_ms = DEFAULT_UPSTREAM_TIMEOUT_MS;
    if (h->cfg.upstream_idle == 0)
        h->cfg.upstream_idle = DEFAULT_UPSTREAM_IDLE;
    if (cfg->handler == NULL) {
        h->addr = addr;
        h->has_upstream = true;
    }
    return HTTPA_OK;
}
