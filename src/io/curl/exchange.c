/* One HTTP exchange over a curl easy handle. The request body is sealed
 * into records as curl pulls it; the response header section is collected
 * into an httpa_msg and, for a protected exchange, its binder is verified
 * before a single body octet is opened; records are opened as they arrive
 * and only verified plaintext reaches the caller (profile 9.2, 12.2).
 * Memory is bounded by the chunk sizes, never by the body length. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

void cl_exchange_init(cl_exchange *x, httpa_curl_client *c, const cl_url *u, httpa_msg *req,
                      httpa_client_txn *txn)
{
    memset(x, 0, sizeof(*x));
    x->c = c;
    x->url = u;
    x->req = req;
    x->txn = txn;
    x->wire_len = -1;
    httpa_buf_init_sensitive(&x->chunk, CL_PLAIN_CHUNK);
    httpa_buf_init(&x->wire, 4 * CL_PLAIN_CHUNK + 2 * 65552);
    httpa_msg_init_response(&x->resp, 0);
    httpa_buf_init(&x->line, CL_MAX_HEADER_OCTETS);
    httpa_buf_init(&x->raw, CL_MAX_HS_BODY);
    x->raw_max = CL_MAX_HS_BODY;
    /* Opening one write callback's octets yields at most that many plus
     * one record buffered from before. */
    httpa_buf_init_sensitive(&x->plain, 4 * 1024 * 1024);
}

void cl_exchange_free(cl_exchange *x)
{
    httpa_buf_free(&x->chunk);
    httpa_buf_free(&x->wire);
    httpa_msg_free(&x->resp);
    httpa_buf_free(&x->line);
    httpa_buf_free(&x->raw);
    httpa_buf_free(&x->plain);
}

httpa_err cl_fail(cl_exchange *x, httpa_err e, const char *fmt, ...)
{
    if (x->err != HTTPA_OK)
        return x->err;
    x->err = e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
    va_end(ap);
    return e;
}

/* ---- request body: plaintext from the source, sealed into records ---- */

/* Up to `cap` octets of plaintext from the caller's source. */
static httpa_err source_take(cl_source *s, uint8_t *buf, size_t cap, httpa_span *out)
{
    const httpa_curl_req *r = s->req;
    if (s->declared != UINT64_MAX && cap > s->declared - s->taken)
        cap = (size_t)(s->declared - s->taken);
    size_t got = 0;
    httpa_err e = HTTPA_OK;
    if (r->read == NULL) {
        size_t left = r->body.len - (size_t)s->taken;
        got = cap < left ? cap : left;
        *out = got != 0 ? HTTPA_SPAN(r->body.base + s->taken, got) : HTTPA_SPAN(buf, 0);
    } else if (cap != 0) {
        e = r->read(r->read_arg, buf, cap, &got);
        if (e == HTTPA_OK && got > cap)
            e = HTTPA_ERR_INVALID_ARG;
        *out = HTTPA_SPAN(buf, got);
    } else {
        *out = HTTPA_SPAN(buf, 0);
    }
    if (e != HTTPA_OK)
        return e;
    s->taken += got;
    if (got == 0 || s->taken == s->declared)
        s->done = true;
    if (s->done && s->declared != UINT64_MAX && s->taken != s->declared)
        return HTTPA_ERR_INVALID_ARG; /* shorter than declared */
    return HTTPA_OK;
}

/* Seal the next piece of plaintext (and the final record at the end). */
static httpa_err refill(cl_exchange *x)
{
    httpa_buf_reset(&x->wire);
    x->wire_pos = 0;
    httpa_span plain;
    httpa_err e = httpa_buf_reserve(&x->chunk, CL_PLAIN_CHUNK);
    if (e == HTTPA_OK)
        e = source_take(&x->src, x->chunk.base, CL_PLAIN_CHUNK, &plain);
    if (e != HTTPA_OK)
        return cl_fail(x, e, "request body: %s", x->src.done && e == HTTPA_ERR_INVALID_ARG
                                                       ? "shorter than its declared length"
                                                       : httpa_strerror(e));
    e = httpa_client_txn_seal(x->txn, plain, x->src.done, &x->wire);
    if (x->src.req->read != NULL)
        httpa_wipe(x->chunk.base, plain.len);
    if (e != HTTPA_OK)
        return cl_fail(x, e, "sealing the request body: %s", httpa_strerror(e));
    x->fin = x->src.done;
    return HTTPA_OK;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    cl_exchange *x = arg;
    size_t cap = size * n;
    while (x->wire_pos == x->wire.len) {
        if (x->fin)
            return 0;
        if (refill(x) != HTTPA_OK)
            return CURL_READFUNC_ABORT;
    }
    size_t k = x->wire.len - x->wire_pos;
    if (k > cap)
        k = cap;
    memcpy(buf, x->wire.base + x->wire_pos, k);
    x->wire_pos += k;
    return k;
}

/* ---- response header section ---- */

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Add the pending "name: value" line to the response. */
static bool flush_line(cl_exchange *x)
{
    if (x->line.len == 0)
        return true;
    const char *p = (const char *)x->line.base;
    const char *colon = memchr(p, ':', x->line.len);
    if (colon == NULL || colon == p) {
        cl_fail(x, HTTPA_ERR_BAD_REQUEST, "malformed response header line");
        return false;
    }
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + x->line.len;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    httpa_err e = httpa_msg_add(&x->resp, p, nlen, v, (size_t)(end - v));
    httpa_buf_reset(&x->line);
    if (e != HTTPA_OK)
        cl_fail(x, e, "response header section: %s", httpa_strerror(e));
    return e == HTTPA_OK;
}

/* "HTTP/1.1 200 OK", "HTTP/2 200": a new response (interim ones included). */
static bool status_line(cl_exchange *x, const char *p, size_t len)
{
    size_t i = 5;
    while (i < len && p[i] != ' ')
        i++;
    while (i < len && p[i] == ' ')
        i++;
    if (len - i < 3 || p[i] < '1' || p[i] > '5' || p[i + 1] < '0' || p[i + 1] > '9' ||
        p[i + 2] < '0' || p[i + 2] > '9') {
        cl_fail(x, HTTPA_ERR_NETWORK, "malformed HTTP status line");
        return false;
    }
    httpa_msg_free(&x->resp);
    httpa_msg_init_response(&x->resp, (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + p[i + 2] - '0');
    httpa_buf_reset(&x->line);
    return true;
}

/* The unauthenticated answer to a protected request (profile 13.3): it is
 * never delivered; its problem detail is kept for the message. */
static bool unauthenticated(cl_exchange *x)
{
    int st = x->resp.status;
    x->discard = true;
    x->raw_max = CL_MAX_PROBLEM;
    if (cl_field(&x->resp, "attest-error", NULL) == NULL) {
        cl_fail(x, HTTPA_ERR_NETWORK,
                "HTTP %d without Attest-Binder or Attest-Error: not an answer of the HTTPA "
                "service (an intermediary failed?)",
                st);
        return true;
    }
    httpa_err e = httpa_client_txn_response(x->txn, &x->resp);
    if (e == HTTPA_OK)
        e = HTTPA_ERR_BAD_TICKET;
    cl_fail(x, e, "unauthenticated %d %s (no binder: any middlebox could have sent it)", st,
            httpa_err_token(e) ? httpa_err_token(e) : httpa_err_name(e));
    return true;
}

/* The final response head is complete: verify it before any content. */
static bool head_complete(cl_exchange *x)
{
    x->head_done = true;
    if (x->txn == NULL)
        return true;
    if (x->resp.status == 101 || cl_field(&x->resp, "attest-binder", NULL) == NULL)
        return unauthenticated(x);
    httpa_err e = httpa_client_txn_response(x->txn, &x->resp);
    if (e != HTTPA_OK) {
        cl_fail(x, e, "response %d failed verification (%s): discarded, nothing delivered",
                x->resp.status, httpa_err_token(e) ? httpa_err_token(e) : httpa_err_name(e));
        return false;
    }
    x->verified = true;
    return true;
}

static bool header_line(cl_exchange *x, const char *p, size_t len)
{
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        return status_line(x, p, len);
    if (x->resp.status == 0) {
        cl_fail(x, HTTPA_ERR_NETWORK, "response without a status line");
        return false;
    }
    if (len == 0) {
        if (!flush_line(x))
            return false;
        int st = x->resp.status;
        if (st >= 100 && st < 200 && st != 101)
            return true; /* interim: the final response follows (12.2 step 1) */
        return head_complete(x);
    }
    if (is_ows(p[0])) { /* obs-fold: replaced by SP (RFC 9112 5.2) */
        httpa_err e = httpa_buf_append_u8(&x->line, ' ');
        if (e == HTTPA_OK)
            e = httpa_buf_append(&x->line, p, len);
        if (e != HTTPA_OK)
            cl_fail(x, HTTPA_ERR_TOO_LARGE, "response header line too long");
        return e == HTTPA_OK;
    }
    if (!flush_line(x))
        return false;
    if (httpa_buf_append(&x->line, p, len) != HTTPA_OK) {
        cl_fail(x, HTTPA_ERR_TOO_LARGE, "response header line too long");
        return false;
    }
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    cl_exchange *x = arg;
    size_t len = size * n;
    if (x->head_done)
        return len; /* trailers: Attest-* in trailers are ignored (4.1) */
    x->header_octets += len;
    if (x->header_octets > CL_MAX_HEADER_OCTETS) {
        cl_fail(x, HTTPA_ERR_TOO_LARGE, "response header section over %d octets",
                CL_MAX_HEADER_OCTETS);
        return 0;
    }
    size_t k = len;
    if (k != 0 && p[k - 1] == '\n')
        k--;
    if (k != 0 && p[k - 1] == '\r')
        k--;
    if (memchr(p, '\0', k) != NULL) {
        cl_fail(x, HTTPA_ERR_BAD_REQUEST, "NUL in a response header line");
        return 0;
    }
    return header_line(x, p, k) ? len : 0;
}

/* ---- response content ---- */

static httpa_err deliver(cl_exchange *x, const httpa_buf *plain)
{
    if (plain->len == 0)
        return HTTPA_OK;
    if (x->write != NULL) {
        httpa_err e = x->write(x->write_arg, plain->base, plain->len);
        if (e != HTTPA_OK)
            return cl_fail(x, e, "the receiver of the response body failed: %s",
                           httpa_strerror(e));
    }
    x->delivered += plain->len;
    return HTTPA_OK;
}

/* Unprotected content (AtHS, Preflight) or the start of an error body. */
static size_t keep_raw(cl_exchange *x, const char *p, size_t len)
{
    size_t room = x->raw_max > x->raw.len ? x->raw_max - x->raw.len : 0;
    if (len > room && !x->discard) {
        cl_fail(x, HTTPA_ERR_TOO_LARGE, "handshake response content over %zu octets",
                x->raw_max);
        return 0;
    }
    if (httpa_buf_append(&x->raw, p, len < room ? len : room) != HTTPA_OK)
        return 0;
    x->content_octets += len;
    return x->content_octets > CL_MAX_DISCARD ? 0 : len;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    cl_exchange *x = arg;
    size_t len = size * n;
    if (!x->head_done) {
        cl_fail(x, HTTPA_ERR_NETWORK, "content before the end of the header section");
        return 0;
    }
    if (x->txn == NULL || x->discard)
        return keep_raw(x, p, len);
    httpa_buf_reset(&x->plain);
    httpa_err e = httpa_client_txn_body(x->txn, HTTPA_SPAN(p, len), false, &x->plain);
    if (e != HTTPA_OK) {
        cl_fail(x, e, "response body record failed verification after %" PRIu64
                      " verified octets: rest discarded",
                x->delivered);
        return 0;
    }
    return deliver(x, &x->plain) == HTTPA_OK ? len : 0;
}

/* ---- the curl request ---- */

static bool name_is(const httpa_header *h, const char *name)
{
    return httpa_name_eq(h->name, h->name_len, name, strlen(name));
}

/* One "Name: value" line for curl ("Name;" sends an empty value). */
static httpa_err add_line(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *s = malloc(n);
    if (s == NULL)
        return HTTPA_ERR_NOMEM;
    if (*value == '\0')
        snprintf(s, n, "%s;", name);
    else
        snprintf(s, n, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(*list, s);
    free(s);
    if (l == NULL)
        return HTTPA_ERR_NOMEM;
    *list = l;
    return HTTPA_OK;
}

/* The request's fields for curl. The framing fields become curl options:
 * Content-Length is the record stream's wire length, Transfer-Encoding:
 * chunked means a streamed body (curl chunks it on HTTP/1.1 only). */
static httpa_err header_list(cl_exchange *x, struct curl_slist **list)
{
    bool length = false;
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && i < x->req->nheaders; i++) {
        const httpa_header *h = &x->req->headers[i];
        length |= name_is(h, "content-length");
        if (name_is(h, "content-length") && x->has_body) {
            char *end;
            unsigned long long v = strtoull(h->value, &end, 10);
            if (*end != '\0' || v > INT64_MAX)
                return HTTPA_ERR_INVALID_ARG;
            x->wire_len = (curl_off_t)v;
        } else if (name_is(h, "transfer-encoding")) {
            x->wire_len = -1;
        } else if (!name_is(h, "expect")) {
            e = add_line(list, h->name, h->value);
        }
    }
    /* Framing is outside the AHL: an empty ATTEST or POST says so. */
    if (e == HTTPA_OK && !x->has_body && !length && strcmp(x->req->method, "GET") != 0 &&
        strcmp(x->req->method, "HEAD") != 0)
        e = add_line(list, "Content-Length", "0");
    struct curl_slist *l = e == HTTPA_OK ? curl_slist_append(*list, "Expect:") : NULL;
    if (l != NULL)
        *list = l; /* "Expect:" removes curl's 100-continue round trip */
    return e != HTTPA_OK ? e : l != NULL ? HTTPA_OK : HTTPA_ERR_NOMEM;
}

static long curl_http_version(httpa_curl_http v)
{
    switch (v) {
    case HTTPA_CURL_HTTP_1_1:
        return CURL_HTTP_VERSION_1_1;
    case HTTPA_CURL_HTTP_2_TLS:
        return CURL_HTTP_VERSION_2TLS;
    case HTTPA_CURL_HTTP_2_PRIOR:
        return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    }
    return CURL_HTTP_VERSION_1_1;
}

#define SET(opt, val)                                   \
    do {                                                \
        if (rc == CURLE_OK)                             \
            rc = curl_easy_setopt(x->h, (opt), (val));  \
    } while (0)

static CURLcode set_transport(cl_exchange *x)
{
    const httpa_curl_config *cfg = &x->c->cfg;
    CURLcode rc = CURLE_OK;
    SET(CURLOPT_URL, x->url->origin);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTP_VERSION, curl_http_version(cfg->http));
    /* libcurl before 8.0.0 fails the second request on a reused h2c
     * prior-knowledge connection (curl/curl#10634): one connection each. */
    if (cfg->http == HTTPA_CURL_HTTP_2_PRIOR &&
        curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
        SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 30000L);
    if (cfg->timeout_ms > 0)
        SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    if (cfg->cafile != NULL)
        SET(CURLOPT_CAINFO, cfg->cafile);
    if (cfg->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    SET(CURLOPT_USERAGENT, cfg->user_agent ? cfg->user_agent : "httpa/0.1");
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* Outer content codings are forbidden on protected messages (9.2):
     * never ask for or undo one. */
    SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    if (cfg->debug != NULL) {
        SET(CURLOPT_DEBUGFUNCTION, cl_curl_debug);
        SET(CURLOPT_DEBUGDATA, x->c);
        SET(CURLOPT_VERBOSE, 1L);
    }
    return rc;
}

static CURLcode set_message(cl_exchange *x, struct curl_slist *list)
{
    CURLcode rc = CURLE_OK;
    /* The target goes out exactly as the AHL covers it (no normalization). */
    SET(CURLOPT_REQUEST_TARGET, x->req->target);
    SET(CURLOPT_CUSTOMREQUEST, x->req->method);
    SET(CURLOPT_HTTPHEADER, list);
    if (strcmp(x->req->method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L);
    if (x->has_body) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, x->wire_len);
    }
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    return rc;
}

/* The protected body's last step: the final record must verify. */
static void finish_body(cl_exchange *x)
{
    httpa_buf_reset(&x->plain);
    httpa_err e = httpa_client_txn_body(x->txn, HTTPA_SPAN(NULL, 0), true, &x->plain);
    if (e != HTTPA_OK)
        cl_fail(x, e, "response body failed verification at its end (truncated or altered) "
                      "after %" PRIu64 " verified octets were delivered",
                x->delivered);
    else
        (void)deliver(x, &x->plain);
}

static void perform(cl_exchange *x)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc = curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, errbuf);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(x->h);
    if (x->err == HTTPA_OK && rc != CURLE_OK) {
        cl_fail(x, HTTPA_ERR_NETWORK, "%s%s%s", curl_easy_strerror(rc), errbuf[0] ? ": " : "",
                errbuf);
        x->curl_code = (int)rc;
    } else if (x->err == HTTPA_OK && !x->head_done) {
        cl_fail(x, HTTPA_ERR_NETWORK, "no response");
    }
    (void)curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, NULL);
}

void cl_problem_detail(const httpa_buf *body, char *out, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return;
    json_t *j = body->len ? json_loadb((const char *)body->base, body->len, 0, NULL) : NULL;
    const char *d = json_string_value(json_object_get(j, "detail"));
    for (; d != NULL && *d != '\0' && k + 1 < n; d++)
        out[k++] = *d >= 0x20 && *d < 0x7f ? *d : '?';
    out[k] = '\0';
    json_decref(j);
}

/* Append the detail of an unauthenticated problem body to the message: it
 * came from anyone on the path, so it is only quoted. */
static void add_detail(cl_exchange *x)
{
    char d[128];
    cl_problem_detail(&x->raw, d, sizeof(d));
    size_t used = strlen(x->msg);
    if (d[0] != '\0' && used < sizeof(x->msg))
        snprintf(x->msg + used, sizeof(x->msg) - used, "; it says: \"%s\"", d);
}

httpa_err cl_exchange_run(cl_exchange *x)
{
    struct curl_slist *list = NULL;
    x->has_body = x->txn != NULL && x->src.req != NULL;
    x->h = cl_handle_get(x->c);
    if (x->h == NULL)
        return cl_fail(x, HTTPA_ERR_NOMEM, "cannot create a curl handle");
    httpa_err e = header_list(x, &list);
    if (e != HTTPA_OK) {
        cl_fail(x, e, "request fields: %s", httpa_strerror(e));
    } else {
        CURLcode rc = set_transport(x);
        if (rc == CURLE_OK)
            rc = set_message(x, list);
        if (rc != CURLE_OK)
            cl_fail(x, HTTPA_ERR_UNSUPPORTED, "libcurl refused an option: %s",
                    curl_easy_strerror(rc));
        else
            perform(x);
    }
    if (x->err == HTTPA_OK && x->verified)
        finish_body(x);
    if (x->discard && x->raw.len != 0)
        add_detail(x);
    curl_slist_free_all(list);
    cl_handle_put(x->c, x->h);
    x->h = NULL;
    return x->err;
}
