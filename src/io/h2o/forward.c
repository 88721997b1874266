/* Forwarding to the upstream application: the restored TrT request, the
 * AtSP secrets document, or (passthrough) a plain request; and the
 * upstream's response, streamed back protected.
 *
 * The upstream learns what the gateway verified through fields the gateway
 * alone sets (any client-sent field with these names is dropped first):
 *   X-Httpa-Kind: trt | atsp | plain
 *   X-Httpa-Base-Id: <Attest-Base-ID>          (trt, atsp)
 *   X-Httpa-Sealed: <names of sealed fields>    (trt; only those are
 *                                                confidential and authenticated)
 *   X-Httpa-Client-Attested: sim | sgx | tdx    (trt, atsp; mutual mode: the
 *                                                tee of the client's verified
 *                                                evidence; absent when none) */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"

static bool is_hop_by_hop(const char *n, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "te",
                                        "trailer", "transfer-encoding", "upgrade",
                                        "http2-settings", "content-length", NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (httpa_name_eq(n, len, names[i], strlen(names[i])))
            return true;
    return false;
}

/* h2o writes its own Date and Server. */
static bool is_replaced_by_h2o(const char *n, size_t len)
{
    return httpa_name_eq(n, len, "date", 4) || httpa_name_eq(n, len, "server", 6);
}

static bool is_gateway_field(const char *n, size_t len)
{
    return len >= 8 && httpa_name_eq(n, 8, "x-httpa-", 8);
}

static bool is_attest_field(const char *n, size_t len)
{
    return len >= 7 && httpa_name_eq(n, 7, "attest-", 7);
}

/* CR, LF or NUL would split a field line on the way upstream. h2o and the
 * Cargo decoder reject them already; this is the last line of defence. */
static bool clean(const char *p, size_t n)
{
    return memchr(p, '\r', n) == NULL && memchr(p, '\n', n) == NULL && memchr(p, '\0', n) == NULL;
}

static httpa_err add_line(httpa_buf *b, const char *name, size_t nlen, const char *value,
                          size_t vlen)
{
    if (!clean(name, nlen) || !clean(value, vlen))
        return HTTPA_ERR_BAD_REQUEST;
    httpa_err e = httpa_buf_append(b, name, nlen);
    if (e == HTTPA_OK)
        e = httpa_buf_append(b, ": ", 2);
    if (e == HTTPA_OK)
        e = httpa_buf_append(b, value, vlen);
    if (e == HTTPA_OK)
        e = httpa_buf_append(b, "\r\n", 2);
    return e;
}

static httpa_err add_str(httpa_buf *b, const char *name, const char *value)
{
    return add_line(b, name, strlen(name), value, strlen(value));
}

/* X-Httpa-Sealed: the names of the fields restored from the Cargo. */
static httpa_err add_sealed_names(httpa_buf *b, const httpa_msg *m)
{
    bool any = false;
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; i < m->nheaders && e == HTTPA_OK; i++) {
        const httpa_header *f = &m->headers[i];
        if (!f->sealed || is_hop_by_hop(f->name, f->name_len))
            continue;
        e = httpa_buf_append_str(b, any ? ", " : "X-Httpa-Sealed: ");
        if (e == HTTPA_OK)
            e = clean(f->name, f->name_len) ? httpa_buf_append(b, f->name, f->name_len)
                                            : HTTPA_ERR_BAD_REQUEST;
        any = true;
    }
    return any && e == HTTPA_OK ? httpa_buf_append(b, "\r\n", 2) : e;
}

static const char *kind_name(hx_route r)
{
    return r == HX_ROUTE_TRT ? "trt" : r == HX_ROUTE_SECRETS ? "atsp" : "plain";
}

/* The TEE of the client's evidence, when its handshake attested it; only
 * a plain token goes upstream. */
static httpa_err add_client_attested(const httpa_h2o_exchange *x, httpa_buf *b)
{
    const char *tee = x->route != HX_ROUTE_PLAIN ? httpa_server_txn_client_tee(x->txn) : NULL;
    if (tee == NULL || tee[0] == '\0' || tee[strspn(tee, "abcdefghijklmnopqrstuvwxyz0123456789-")])
        return HTTPA_OK;
    return add_str(b, "X-Httpa-Client-Attested", tee);
}

static httpa_err add_framing(httpa_h2o_exchange *x, httpa_buf *b, size_t body_len)
{
    const httpa_msg *m = &x->msg;
    bool needs = body_len != 0 || httpa_name_eq(m->method, m->method_len, "POST", 4) ||
                 httpa_name_eq(m->method, m->method_len, "PUT", 3) ||
                 httpa_name_eq(m->method, m->method_len, "PATCH", 5);
    char len[24];
    snprintf(len, sizeof(len), "%zu", body_len);
    httpa_err e = needs ? add_str(b, "Content-Length", len) : HTTPA_OK;
    if (e == HTTPA_OK && x->route != HX_ROUTE_PLAIN)
        e = add_str(b, "X-Httpa-Base-Id", x->base_id);
    if (e == HTTPA_OK)
        e = add_str(b, "X-Httpa-Kind", kind_name(x->route));
    if (e == HTTPA_OK)
        e = add_client_attested(x, b);
    return e == HTTPA_OK ? httpa_buf_append(b, "\r\n", 2) : e;
}

/* The request line and fields of the (restored) request. */
static httpa_err build_request_head(httpa_h2o_exchange *x, size_t body_len)
{
    const httpa_msg *m = &x->msg;
    httpa_buf *b = &x->up_head;
    const httpa_header *host = httpa_msg_find(m, "host", 4);
    httpa_err e = HTTPA_OK;

    if (!clean(m->method, m->method_len) || !clean(m->target, m->target_len) ||
        memchr(m->method, ' ', m->method_len) != NULL || memchr(m->target, ' ', m->target_len))
        return HTTPA_ERR_BAD_REQUEST;
    e = httpa_buf_append(b, m->method, m->method_len);
    if (e == HTTPA_OK)
        e = httpa_buf_append(b, " ", 1);
    if (e == HTTPA_OK)
        e = httpa_buf_append(b, m->target, m->target_len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(b, " HTTP/1.1\r\n");
    if (e == HTTPA_OK)
        e = host != NULL ? add_line(b, "Host", 4, host->value, host->value_len)
                         : add_str(b, "Host", x->h->addr.authority);
    for (size_t i = 0; i < m->nheaders && e == HTTPA_OK; i++) {
        const httpa_header *f = &m->headers[i];
        if (f == host || httpa_name_eq(f->name, f->name_len, "host", 4) ||
            is_hop_by_hop(f->name, f->name_len) || is_gateway_field(f->name, f->name_len) ||
            (x->route != HX_ROUTE_PLAIN && is_attest_field(f->name, f->name_len)))
            continue;
        e = add_line(b, f->name, f->name_len, f->value, f->value_len);
    }
    if (e == HTTPA_OK && x->route == HX_ROUTE_TRT)
        e = add_sealed_names(b, m);
    return e == HTTPA_OK ? add_framing(x, b, body_len) : e;
}

/* {"base_id":"...","secrets":{"name":"base64",...}}. Names are sf-keys
 * (lower-case letters, digits, "_-.*") and need no JSON escaping. */
static httpa_err build_secrets_doc(httpa_h2o_exchange *x)
{
    const char *const *names;
    const httpa_span *values;
    size_t n = httpa_server_txn_secrets(x->txn, &names, &values);
    httpa_buf *b = &x->up_body;
    httpa_err e = httpa_buf_append_str(b, "{\"base_id\":\"");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(b, x->base_id);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(b, "\",\"secrets\":{");
    for (size_t i = 0; i < n && e == HTTPA_OK; i++) {
        for (const char *c = names[i]; *c != '\0'; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
                return HTTPA_ERR_BAD_REQUEST;
        e = httpa_buf_append_str(b, i ? ",\"" : "\"");
        if (e == HTTPA_OK)
            e = httpa_buf_append_str(b, names[i]);
        if (e == HTTPA_OK)
            e = httpa_buf_append_str(b, "\":\"");
        if (e == HTTPA_OK)
            e = httpa_base64_encode(values[i], b);
        if (e == HTTPA_OK)
            e = httpa_buf_append_str(b, "\"");
    }
    return e == HTTPA_OK ? httpa_buf_append_str(b, "}}") : e;
}

static httpa_err build_secrets_head(httpa_h2o_exchange *x)
{
    httpa_buf *b = &x->up_head;
    httpa_err e = httpa_buf_append_str(b, "POST ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(b, x->h->secrets_path);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(b, " HTTP/1.1\r\n");
    if (e == HTTPA_OK)
        e = add_str(b, "Host", x->h->addr.authority);
    if (e == HTTPA_OK)
        e = add_str(b, "Content-Type", "application/json");
    if (e == HTTPA_OK)
        e = add_framing(x, b, x->up_body.len);
    return e;
}

/* ---- the upstream's response ---- */

static httpa_err response_msg(httpa_h2o_exchange *x, const up_head *head, httpa_msg *resp)
{
    httpa_msg_init_response(resp, head->status);
    for (size_t i = 0; i < head->nheaders; i++) {
        const struct phr_header *f = &head->headers[i];
        if (is_hop_by_hop(f->name, f->name_len) || is_gateway_field(f->name, f->name_len) ||
            is_replaced_by_h2o(f->name, f->name_len) ||
            (x->protect && is_attest_field(f->name, f->name_len)))
            continue;
        httpa_err e = httpa_msg_add(resp, f->name, f->name_len, f->value, f->value_len);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

static int up_on_head(void *arg, const up_head *head)
{
    httpa_h2o_exchange *x = arg;
    httpa_msg resp;

    if (x->route == HX_ROUTE_SECRETS && (head->status < 200 || head->status > 299)) {
        x->up = NULL; /* returning non-zero ends the exchange */
        hx_error(x, HTTPA_ERR_POLICY_VIOLATION, "the service rejected the provisioned secrets");
        return 1;
    }
    bool has_body = head->has_body && !x->head_request;
    httpa_err e = response_msg(x, head, &resp);
    if (e == HTTPA_OK)
        e = hx_start(x, &resp, head->content_length, has_body);
    httpa_msg_free(&resp);
    if (e != HTTPA_OK) {
        x->up = NULL;
        x->up_error = "the upstream response cannot be protected";
        hx_error(x, HTTPA_ERR_INTERNAL, "the upstream response cannot be protected");
        return 1;
    }
    return 0;
}

static int up_on_body(void *arg, const uint8_t *p, size_t n, bool fin)
{
    httpa_h2o_exchange *x = arg;
    if (fin)
        x->up = NULL; /* the client frees itself after this call */
    if (hx_write(x, p, n, fin) != HTTPA_OK) {
        x->up = NULL;
        x->up_error = "the upstream response cannot be protected";
        return 1;
    }
    if (!fin && x->up != NULL && x->out[x->filling].len >= HX_OUT_HIGH)
        up_pause(x->up);
    return 0;
}

static void up_on_error(void *arg, const char *what, bool head_seen)
{
    httpa_h2o_exchange *x = arg;
    (void)head_seen;
    x->up = NULL;
    x->up_error = what; /* a static sentence: never data */
    if (x->started) {
        hx_abort(x);
    } else if (x->route == HX_ROUTE_PLAIN) {
        x->started = x->final_sent = true;
        x->status = 502;
        h2o_send_error_502(x->req, "Bad Gateway", "the upstream application is unavailable", 0);
    } else {
        hx_error(x, HTTPA_ERR_INTERNAL, "the upstream application is unavailable");
    }
}

static const up_callbacks forward_callbacks = {up_on_head, up_on_body, up_on_error};

/* The secrets path belongs to the gateway: a TrT or a plain request for it
 * could hand the application forged secrets (or another base's ID). The
 * application must still check X-Httpa-Kind: atsp there, since it may
 * normalize paths the gateway compares literally. */
static bool is_reserved(const httpa_h2o_exchange *x)
{
    const char *p = x->h->secrets_path;
    size_t n = strlen(p);
    const httpa_msg *m = &x->msg;
    return m->target_len >= n && memcmp(m->target, p, n) == 0 &&
           (m->target_len == n || m->target[n] == '?' || m->target[n] == '/' || p[n - 1] == '/');
}

void hx_forward(httpa_h2o_exchange *x)
{
    httpa_err e;
    h2o_iovec_t body;

    if (x->route != HX_ROUTE_SECRETS && is_reserved(x)) {
        hx_error(x, HTTPA_ERR_POLICY_VIOLATION, "this path is reserved for provisioned secrets");
        return;
    }
    if (x->route == HX_ROUTE_SECRETS) {
        e = build_secrets_doc(x);
        if (e == HTTPA_OK)
            e = build_secrets_head(x);
        body = h2o_iovec_init(x->up_body.base, x->up_body.len);
    } else {
        body = x->route == HX_ROUTE_PLAIN ? x->req->entity
                                          : h2o_iovec_init(x->plain.base, x->plain.len);
        e = build_request_head(x, body.len);
    }
    if (e != HTTPA_OK) {
        hx_error(x, e == HTTPA_ERR_BAD_REQUEST ? e : HTTPA_ERR_INTERNAL,
                 "the request cannot be forwarded");
        return;
    }
    h2o_iovec_t head = h2o_iovec_init(x->up_head.base, x->up_head.len);
    x->up = up_start(&x->c->pool, head, body, x->head_request, &forward_callbacks, x);
    if (x->up == NULL)
        hx_error(x, HTTPA_ERR_INTERNAL, "out of memory");
}
