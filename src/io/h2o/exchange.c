/* Answers of the h2o adapter: whole responses (Preflight, AtHS, errors) and
 * streamed ones (protected record by record, double-buffered so that one
 * buffer is in h2o's hands while the next fills). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error"
                                                                                    : "Server Error";
    }
}

static bool name_is(const httpa_header *f, const char *name)
{
    return httpa_name_eq(f->name, f->name_len, name, strlen(name));
}

/* A decimal Content-Length, or SIZE_MAX. */
static size_t parse_length(const httpa_header *f)
{
    size_t v = 0;
    if (f->value_len == 0 || f->value_len > 18)
        return SIZE_MAX;
    for (size_t i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return SIZE_MAX;
        v = v * 10 + (size_t)(f->value[i] - '0');
    }
    return v;
}

/* Copy status and fields into h2o's response. h2o frames the body itself:
 * Content-Length becomes res.content_length, Transfer-Encoding is dropped
 * (HTTP/1.1 chunks when the length is unknown, HTTP/2 ends the stream).
 * Names are lower-cased, as HTTP/2 requires. */
static void copy_head(httpa_h2o_exchange *x, const httpa_msg *resp)
{
    h2o_req_t *req = x->req;
    req->res.status = resp->status;
    req->res.reason = reason_of(resp->status);
    req->res.content_length = SIZE_MAX;
    x->status = resp->status;
    for (size_t i = 0; i < resp->nheaders; i++) {
        const httpa_header *f = &resp->headers[i];
        if (name_is(f, "content-length")) {
            req->res.content_length = parse_length(f);
            continue;
        }
        if (name_is(f, "transfer-encoding") || name_is(f, "connection"))
            continue;
        if (name_is(f, "attest-error") && x->err_token == NULL) {
            httpa_err e = httpa_err_from_token(f->value, f->value_len);
            x->err_token = httpa_err_token(e);
        }
        h2o_iovec_t name = h2o_strdup(&req->pool, f->name, f->name_len);
        h2o_strtolower(name.base, name.len);
        h2o_iovec_t value = h2o_strdup(&req->pool, f->value, f->value_len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              value.base, value.len);
    }
}

void hx_send_msg(httpa_h2o_exchange *x, const httpa_msg *resp, httpa_span body)
{
    copy_head(x, resp);
    x->req->res.content_length = body.len;
    x->started = true;
    x->final_sent = true;
    x->body_out = body.len;
    /* h2o_send_inline copies the body and honours HEAD. */
    h2o_send_inline(x->req, (const char *)body.base, body.len);
}

/* An error answer: authenticated (with a binder) once the ticket verified,
 * otherwise plain Attest-Error and problem+json (profile 13). */
void hx_error(httpa_h2o_exchange *x, httpa_err err, const char *detail)
{
    httpa_msg resp;
    httpa_buf body;
    httpa_err e;

    if (x->started) { /* too late for an answer: abort the stream */
        hx_abort(x);
        return;
    }
    if (httpa_err_token(err) == NULL)
        err = HTTPA_ERR_INTERNAL;
    x->err_token = httpa_err_token(err);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    if (x->txn != NULL)
        e = httpa_server_txn_error(x->txn, err, detail, &resp, &body);
    else
        e = httpa_error_response(err, detail, &resp, &body);
    if (e != HTTPA_OK || resp.status == 0) {
        x->started = x->final_sent = true;
        x->status = 500;
        h2o_send_error_500(x->req, "Internal Server Error", "internal error", 0);
    } else {
        hx_send_msg(x, &resp, httpa_buf_span(&body));
    }
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

/* ---- streamed responses ---- */

static void hx_flush(httpa_h2o_exchange *x)
{
    if (x->sending || x->final_sent)
        return;
    if (x->failed) {
        x->final_sent = true;
        h2o_send(x->req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    httpa_buf *b = &x->out[x->filling];
    if (b->len == 0 && !x->fin_queued)
        return;
    h2o_iovec_t iov = h2o_iovec_init(b->base, b->len);
    x->filling ^= 1;
    x->body_out += b->len;
    if (x->fin_queued) {
        x->final_sent = true;
        h2o_send(x->req, &iov, iov.len != 0, H2O_SEND_STATE_FINAL);
    } else {
        x->sending = true;
        h2o_send(x->req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    httpa_h2o_exchange *x = H2O_STRUCT_FROM_MEMBER(httpa_h2o_exchange, gen, gen);
    (void)req;
    x->sending = false;
    httpa_buf_reset(&x->out[x->filling ^ 1]); /* h2o is done with it */
    if (x->up != NULL && x->out[x->filling].len < HX_OUT_HIGH)
        up_resume(x->up);
    hx_flush(x);
}

/* The client went away or the stream was reset. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    httpa_h2o_exchange *x = H2O_STRUCT_FROM_MEMBER(httpa_h2o_exchange, gen, gen);
    (void)req;
    x->final_sent = true;
    if (x->up != NULL) {
        up_cancel(x->up);
        x->up = NULL;
    }
}

void hx_abort(httpa_h2o_exchange *x)
{
    x->failed = true;
    if (x->started)
        hx_flush(x);
}

httpa_err hx_start(httpa_h2o_exchange *x, httpa_msg *resp, uint64_t content_length, bool has_body)
{
    if (x->protect) {
        httpa_seal_opts o = {.content_length = has_body ? content_length : 0, .has_body = has_body};
        httpa_err e = httpa_server_txn_respond(x->txn, resp, &o);
        if (e != HTTPA_OK)
            return e;
    }
    copy_head(x, resp);
    if (!x->protect)
        x->req->res.content_length = has_body && content_length != UINT64_MAX
                                         ? (size_t)content_length : has_body ? SIZE_MAX : 0;
    x->gen.proceed = on_proceed;
    x->gen.stop = on_stop;
    x->started = true;
    h2o_start_response(x->req, &x->gen);
    if (!has_body) {
        x->fin_queued = true;
        hx_flush(x);
    }
    return HTTPA_OK;
}

httpa_err hx_write(httpa_h2o_exchange *x, const uint8_t *p, size_t n, bool fin)
{
    httpa_buf *b = &x->out[x->filling];
    httpa_err e = HTTPA_OK;

    if (x->final_sent || x->fin_queued)
        return HTTPA_OK; /* nothing more can go out (the client left, or no body) */
    if (x->protect)
        e = httpa_server_txn_seal(x->txn, HTTPA_SPAN(p, n), fin, b);
    else if (n != 0)
        e = httpa_buf_append(b, p, n);
    if (e != HTTPA_OK) {
        hx_abort(x);
        return e;
    }
    x->fin_queued = fin;
    hx_flush(x);
    return HTTPA_OK;
}

/* The request's memory is going away: end everything still running. */
void hx_dispose(void *p)
{
    httpa_h2o_exchange *x = p;
    if (x->up != NULL) {
        up_cancel(x->up);
        x->up = NULL;
    }
    hx_log(x);
    if (x->txn != NULL)
        httpa_server_txn_free(x->txn);
    httpa_msg_free(&x->msg);
    httpa_buf_free(&x->plain);
    httpa_buf_free(&x->up_head);
    httpa_buf_free(&x->up_body);
    httpa_buf_free(&x->out[0]);
    httpa_buf_free(&x->out[1]);
}

httpa_err httpa_h2o_respond(httpa_h2o_exchange *x, httpa_msg *resp, httpa_span body)
{
    if (x == NULL || resp == NULL || (body.len != 0 && body.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (x->responded || x->started)
        return HTTPA_ERR_BAD_STATE;
    bool has_body = !x->head_request && resp->status != 204 && resp->status != 304 &&
                    resp->status >= 200;
    if (resp->status < 200 || resp->status > 999 || (!has_body && body.len != 0))
        return HTTPA_ERR_INVALID_ARG;
    x->responded = true;
    httpa_err e = hx_start(x, resp, body.len, has_body);
    if (e != HTTPA_OK) {
        x->responded = false; /* the adapter answers with an error instead */
        return e;
    }
    return has_body ? hx_write(x, body.base, body.len, true) : HTTPA_OK;
}
