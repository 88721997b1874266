/* httpa_curl_request: Preflight and Attest Handshake when the origin has no
 * usable Attest Base, Attest Secret Provisioning when the request carries
 * secrets, then the Trusted Transaction; and the narrow recovery profile
 * 13.3 allows after an unauthenticated 503 unknown_base / expired_base.
 * Nothing confidential is sent before the evidence, the local policy and the
 * handshake binder verified (6.2.4 step 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define ATHS_TARGET "/.well-known/httpa"

typedef struct rq {
    httpa_curl_client *c;
    const httpa_curl_req *req;
    httpa_curl_resp *resp;
    const char *method;      /* the application's method */
    bool body_started;       /* octets were taken from a streamed body */
} rq;

static httpa_err rq_fail(rq *q, httpa_err e, const char *fmt, ...) CL_PRINTF(3, 4);

static httpa_err rq_fail(rq *q, httpa_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->resp->message, sizeof(q->resp->message), fmt, ap);
    va_end(ap);
    q->resp->err = e;
    return e;
}

/* The failure of an exchange, with what libcurl said. */
static httpa_err rq_exchange_fail(rq *q, const cl_exchange *x, const char *what)
{
    q->resp->curl_code = x->curl_code;
    return rq_fail(q, x->err, "%s%s", what, x->msg);
}

static const char *tok(httpa_err e)
{
    return httpa_err_token(e) ? httpa_err_token(e) : httpa_err_name(e);
}

static const char *aths_target(const httpa_curl_client *c)
{
    return c->cfg.engine.target ? c->cfg.engine.target : ATHS_TARGET;
}

/* ---- Preflight (profile 6.1) ---- */

static bool lists_token(const char *v, const char *want)
{
    size_t n = strlen(want);
    while (v != NULL && *v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t k = strcspn(v, ", \t");
        if (k == n && memcmp(v, want, n) == 0)
            return true;
        v += k;
    }
    return false;
}

/* Access-Control-Request-Headers: the lower-cased Attest-* names of the AtHS. */
static httpa_err preflight_request(const httpa_msg *aths, httpa_msg *m)
{
    httpa_buf names;
    httpa_buf_init(&names, 4096);
    httpa_err e = httpa_msg_set_request_line(m, "OPTIONS", 7, aths->target, aths->target_len);
    for (size_t i = 0; e == HTTPA_OK && i < aths->nheaders; i++) {
        const httpa_header *h = &aths->headers[i];
        if (h->name_len < 7 || !httpa_name_eq(h->name, 7, "attest-", 7))
            continue;
        if (names.len != 0)
            e = httpa_buf_append_str(&names, ", ");
        for (size_t k = 0; e == HTTPA_OK && k < h->name_len; k++) {
            char ch = h->name[k];
            e = httpa_buf_append_u8(&names, (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch));
        }
    }
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(m, "Access-Control-Request-Method", "ATTEST");
    if (e == HTTPA_OK)
        e = httpa_msg_add(m, "Access-Control-Request-Headers", 30, (const char *)names.base,
                          names.len);
    httpa_buf_free(&names);
    return e;
}

static httpa_err preflight(rq *q, const cl_url *u, const httpa_msg *aths)
{
    httpa_msg m;
    cl_exchange x;
    httpa_msg_init_request(&m);
    httpa_err e = preflight_request(aths, &m);
    if (e != HTTPA_OK) {
        httpa_msg_free(&m);
        return rq_fail(q, e, "Preflight: %s", httpa_strerror(e));
    }
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "Preflight: OPTIONS %s (may ATTEST be used?)", m.target);
    cl_exchange_init(&x, q->c, u, &m, NULL);
    e = cl_exchange_run(&x);
    int st = x.resp.status;
    if (e != HTTPA_OK) {
        rq_exchange_fail(q, &x, "Preflight: ");
    } else if (st == 405) {
        e = rq_fail(q, HTTPA_ERR_NEGOTIATION_FAILED,
                    "Preflight refused (405): HTTPA is not available at %s", u->origin);
    } else if ((st != 200 && st != 204) ||
               !(lists_token(cl_field(&x.resp, "allow", NULL), "ATTEST") ||
                 lists_token(cl_field(&x.resp, "access-control-allow-methods", NULL), "ATTEST"))) {
        e = rq_fail(q, HTTPA_ERR_NEGOTIATION_FAILED,
                    "Preflight answered %d without allowing ATTEST", st);
    } else {
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "Preflight: %d, ATTEST allowed", st);
    }
    cl_exchange_free(&x);
    httpa_msg_free(&m);
    return e;
}

/* ---- Attest Handshake (profile 6.2) ---- */

static bool offered_sim(const httpa_curl_attestation *att)
{
    for (size_t i = 0; i < att->nevidence; i++)
        if (strcmp(att->evidence[i].tee, "sim") == 0)
            return true;
    return false;
}

static const httpa_curl_evidence *first_rejected(const httpa_curl_attestation *att)
{
    for (size_t i = 0; i < att->nevidence; i++) {
        const httpa_curl_evidence *ev = &att->evidence[i];
        if (ev->appraised && ev->result != HTTPA_OK && ev->result != HTTPA_ERR_UNSUPPORTED)
            return ev;
    }
    return NULL;
}

/* Why hs_finish refused the response, in the caller's terms. */
static httpa_err aths_failure(rq *q, const cl_recorder *rec, const cl_exchange *x, httpa_err e)
{
    const httpa_curl_attestation *att = rec->att;
    if (x->resp.status != 200) {
        char d[128];
        cl_problem_detail(&x->raw, d, sizeof(d));
        return rq_fail(q, e, "handshake refused: %d %s (unauthenticated)%s%s%s", x->resp.status,
                       tok(e), d[0] ? "; it says: \"" : "", d, d[0] ? "\"" : "");
    }
    if (rec->policy_rejected)
        return rq_fail(q, HTTPA_ERR_POLICY_VIOLATION, "policy rejected the evidence: %s",
                       rec->why);
    if (e == HTTPA_ERR_BAD_QUOTE && offered_sim(att) && !q->c->cfg.engine.allow_sim)
        return rq_fail(q, e, "the server offered SIMULATED TEE evidence (sim), which proves "
                             "nothing about hardware: rejected (not allowed by this client)");
    const httpa_curl_evidence *ev = first_rejected(att);
    if (e == HTTPA_ERR_BAD_QUOTE && ev != NULL)
        return rq_fail(q, e, "evidence %s/%s rejected: %s%s%s", ev->tee, ev->format,
                       httpa_strerror(ev->result), ev->why[0] ? ": " : "", ev->why);
    if (e == HTTPA_ERR_BAD_QUOTE)
        return rq_fail(q, e, "attestation failed: no evidence entry verified, or the "
                             "signature, attested key, report_data or mode check failed");
    if (e == HTTPA_ERR_BAD_TICKET)
        return rq_fail(q, e, "handshake binder missing or invalid: response forged or altered");
    return rq_fail(q, e, "handshake response rejected (%s): %s", tok(e), httpa_strerror(e));
}

/* A non-200 answer without Attest-Error is not from an HTTPA terminator. */
static httpa_err aths_status(rq *q, const cl_exchange *x, const cl_url *u)
{
    int st = x->resp.status;
    if (st == 200 || cl_field(&x->resp, "attest-error", NULL) != NULL)
        return HTTPA_OK;
    if (st == 405)
        return rq_fail(q, HTTPA_ERR_NEGOTIATION_FAILED,
                       "ATTEST not allowed (405): HTTPA is not available at %s", u->origin);
    return rq_fail(q, HTTPA_ERR_NETWORK,
                   "handshake answered HTTP %d without Attest-Error: not an HTTPA service, or "
                   "an intermediary failed",
                   st);
}

static httpa_err aths_exchange(rq *q, const cl_url *u, httpa_msg *m, httpa_client_hs *hs,
                               cl_recorder *rec, cl_base *b, int64_t sent)
{
    cl_exchange x;
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "Attest Handshake: ATTEST %s on %s", m->target,
           u->origin);
    cl_exchange_init(&x, q->c, u, m, NULL);
    httpa_err e = cl_exchange_run(&x);
    if (e != HTTPA_OK)
        rq_exchange_fail(q, &x, "handshake: ");
    else
        e = aths_status(q, &x, u);
    if (e == HTTPA_OK) {
        cl_att_offered(&b->att, &x.resp, sent);
        rec->resp = &x.resp;
        e = httpa_client_hs_finish(hs, &x.resp, httpa_buf_span(&x.raw), (int64_t)time(NULL),
                                   &b->base);
        if (e != HTTPA_OK)
            e = aths_failure(q, rec, &x, e);
        else
            cl_att_established(&b->att, b->base);
        cl_att_report(q->c, &b->att, e);
    }
    cl_exchange_free(&x);
    return e;
}

static httpa_err handshake(httpa_curl_client *c, const cl_url *u, int64_t sent, void *arg,
                           cl_base **out)
{
    rq *q = arg;
    cl_base *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return rq_fail(q, HTTPA_ERR_NOMEM, "out of memory");
    cl_recorder rec;
    cl_recorder_init(&rec, c, &b->att);
    httpa_client_config cfg = c->cfg.engine;
    cfg.verifier = &rec.base;
    httpa_client_hs *hs = NULL;
    httpa_msg m;
    httpa_msg_init_request(&m);
    httpa_err e = httpa_client_hs_start(&cfg, sent, &m, &hs);
    if (e != HTTPA_OK)
        rq_fail(q, e, "cannot start the handshake: %s", httpa_strerror(e));
    if (e == HTTPA_OK && q->req->preflight)
        e = preflight(q, u, &m);
    if (e == HTTPA_OK)
        e = aths_exchange(q, u, &m, hs, &rec, b, sent);
    httpa_client_hs_free(hs);
    httpa_msg_free(&m);
    q->resp->handshake = true;
    q->resp->attestation = b->att;
    if (e != HTTPA_OK) {
        httpa_client_base_release(b->base);
        httpa_wipe(b, sizeof(*b));
        free(b);
        return e;
    }
    *out = b;
    return HTTPA_OK;
}

/* ---- Attest Secret Provisioning (profile 6.3) ---- */

/* An unauthenticated 503 unknown_base / expired_base: the base is gone. So,
 * maybe, is the instance that holds it: a balancer's own 502 or 504 (no
 * Attest-Error) to a request it routed by the Base-ID, after which the
 * client runs a new AtHS (profile 15.4). */
static bool base_gone(const cl_exchange *x, httpa_err e)
{
    if (x->verified)
        return false;
    if (e == HTTPA_ERR_NETWORK)
        return (x->resp.status == 502 || x->resp.status == 504) &&
               cl_field(&x->resp, "attest-error", NULL) == NULL;
    return x->resp.status == 503 && (e == HTTPA_ERR_UNKNOWN_BASE || e == HTTPA_ERR_EXPIRED_BASE);
}

/* An authenticated response whose status is an error of the transaction. */
static httpa_err authenticated_error(const cl_exchange *x)
{
    const char *t = cl_field(&x->resp, "attest-error", NULL);
    httpa_err e = t ? httpa_err_from_token(t, strcspn(t, " \t")) : HTTPA_ERR_INTERNAL;
    return e == HTTPA_OK ? HTTPA_ERR_INTERNAL : e;
}

static httpa_err provision_exchange(rq *q, const cl_url *u, httpa_msg *m,
                                    httpa_client_txn *txn, bool *gone)
{
    cl_exchange x;
    cl_exchange_init(&x, q->c, u, m, txn);
    httpa_err e = cl_exchange_run(&x);
    *gone = base_gone(&x, e);
    if (e != HTTPA_OK) {
        rq_exchange_fail(q, &x, "secret provisioning: ");
    } else if (x.resp.status != 200) {
        e = authenticated_error(&x);
        rq_fail(q, e, "the service refused the secrets: %d %s (authenticated)", x.resp.status,
                tok(e));
    } else {
        q->resp->provisioned = true;
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "secrets provisioned: binder verified");
    }
    cl_exchange_free(&x);
    return e;
}

static httpa_err provision(rq *q, const cl_url *u, cl_base *b, bool *gone)
{
    const httpa_curl_req *r = q->req;
    const char *t = aths_target(q->c);
    httpa_seal_opts o = {.secret_names = r->secret_names,
                         .secret_values = r->secret_values,
                         .nsecrets = r->nsecrets};
    httpa_client_txn *txn = NULL;
    httpa_msg m;
    httpa_msg_init_request(&m);
    httpa_err e = httpa_msg_set_request_line(&m, "ATTEST", 6, t, strlen(t));
    if (e == HTTPA_OK)
        e = httpa_client_protect(b->base, &m, &o, &txn);
    *gone = e == HTTPA_ERR_EXPIRED_BASE;
    if (e != HTTPA_OK) {
        rq_fail(q, e, "cannot protect the secrets: %s", httpa_strerror(e));
    } else {
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST,
               "Attest Secret Provisioning: %zu secret(s); names travel in clear, values sealed",
               r->nsecrets);
        e = provision_exchange(q, u, &m, txn, gone);
    }
    httpa_client_txn_free(txn);
    httpa_msg_free(&m);
    return e;
}

/* ---- the Trusted Transaction (profile 6.4) ---- */

static bool tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* "Name: value" from the caller. */
static httpa_err add_header_line(httpa_msg *m, const char *line)
{
    size_t n = 0;
    while (tchar(line[n]))
        n++;
    if (n == 0 || line[n] != ':')
        return HTTPA_ERR_INVALID_ARG;
    const char *v = line + n + 1, *end = v + strlen(v);
    for (const char *p = v; p < end; p++)
        if (*p == '\r' || *p == '\n' || (*p < 0x20 && *p != '\t') || *p == 0x7f)
            return HTTPA_ERR_INVALID_ARG;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return httpa_msg_add(m, line, n, v, (size_t)(end - v));
}

static bool method_in(const char *m, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(m, *list) == 0)
            return true;
    return false;
}

static bool idempotent(const char *m)
{
    static const char *const list[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", NULL};
    return method_in(m, list);
}

static httpa_err build_request(rq *q, const cl_url *u, httpa_msg *m)
{
    const httpa_curl_req *r = q->req;
    httpa_err e = httpa_msg_set_request_line(m, q->method, strlen(q->method), u->target,
                                             strlen(u->target));
    for (size_t i = 0; e == HTTPA_OK && r->headers != NULL && r->headers[i] != NULL; i++) {
        e = add_header_line(m, r->headers[i]);
        if (e == HTTPA_ERR_INVALID_ARG)
            return rq_fail(q, e, "malformed request field (want \"Name: value\")");
    }
    if (e != HTTPA_OK)
        rq_fail(q, e, "request: %s", httpa_strerror(e));
    return e;
}

/* Remember the application's fields (names and lengths only). */
static httpa_err note_fields(httpa_curl_resp *resp, const httpa_msg *m)
{
    for (size_t i = 0; i < resp->nfields; i++)
        free(resp->fields[i].name);
    free(resp->fields);
    resp->nfields = 0;
    resp->fields = calloc(m->nheaders ? m->nheaders : 1, sizeof(*resp->fields));
    if (resp->fields == NULL)
        return HTTPA_ERR_NOMEM;
    for (size_t i = 0; i < m->nheaders; i++) {
        httpa_curl_field *f = &resp->fields[resp->nfields];
        f->name = strdup(m->headers[i].name);
        if (f->name == NULL)
            return HTTPA_ERR_NOMEM;
        for (char *p = f->name; *p != '\0'; p++) /* as sealed names travel (9.4) */
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        f->value_len = m->headers[i].value_len;
        resp->nfields++;
    }
    return HTTPA_OK;
}

/* A field that left the outer section went into the Cargo, except the
 * framing fields the engine replaces. */
static void mark_sealed(httpa_curl_resp *resp, const httpa_msg *wire)
{
    static const char *const framing[] = {"content-length", "transfer-encoding", "cache-control",
                                          NULL};
    for (size_t i = 0; i < resp->nfields; i++) {
        httpa_curl_field *f = &resp->fields[i];
        bool replaced = false;
        for (size_t k = 0; framing[k] != NULL; k++)
            replaced |= httpa_name_eq(f->name, strlen(f->name), framing[k], strlen(framing[k]));
        f->sealed = !replaced && httpa_msg_find(wire, f->name, strlen(f->name)) == NULL;
    }
}

static void report_request(const rq *q, const httpa_msg *wire)
{
    const httpa_curl_resp *resp = q->resp;
    char sealed[CL_LINE_MAX] = "", clear[CL_LINE_MAX] = "";
    size_t s = 0, k = 0;
    if (!cl_verbose(q->c))
        return;
    for (size_t i = 0; i < resp->nfields; i++) {
        const httpa_curl_field *f = &resp->fields[i];
        if (f->sealed && s < sizeof(sealed))
            s += (size_t)snprintf(sealed + s, sizeof(sealed) - s, "%s%s (%zu octets)",
                                  s ? ", " : "", f->name, f->value_len);
        else if (!f->sealed && k < sizeof(clear))
            k += (size_t)snprintf(clear + k, sizeof(clear) - k, "%s%s", k ? ", " : "", f->name);
    }
    if (resp->target_sealed)
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST,
               "method and target sealed (%zu octets); outside: %s %s", resp->target_len,
               wire->method, wire->target);
    else
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST,
               "method and target in clear, integrity-protected: %s %s", wire->method,
               wire->target);
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "sealed request fields: %s", s ? sealed : "none");
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST,
           "request fields in clear, not authenticated: %s%shost, user-agent, accept (transport)",
           k ? clear : "", k ? ", " : "");
}

static void report_response(const rq *q, const httpa_msg *m)
{
    char sealed[CL_LINE_MAX] = "";
    size_t s = 0;
    if (!cl_verbose(q->c))
        return;
    for (size_t i = 0; i < m->nheaders; i++)
        if (m->headers[i].sealed && s < sizeof(sealed))
            s += (size_t)snprintf(sealed + s, sizeof(sealed) - s, "%s%s (%zu octets)",
                                  s ? ", " : "", m->headers[i].name, m->headers[i].value_len);
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "response %d: binder verified (authenticated)", m->status);
    cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "sealed response fields: %s", s ? sealed : "none");
}

static void keep_response(rq *q, cl_exchange *x)
{
    httpa_curl_resp *resp = q->resp;
    resp->body_octets += x->delivered;
    resp->delivered |= x->delivered != 0;
    if (!x->verified)
        return;
    resp->binder_verified = true;
    resp->status = x->resp.status;
    httpa_msg_free(&resp->msg);
    resp->msg = x->resp;
    httpa_msg_init_response(&x->resp, 0);
    const httpa_header *h = httpa_msg_find(&resp->msg, "attest-error", 12);
    resp->attest_error = h ? h->value : NULL;
    report_response(q, &resp->msg);
}

static httpa_err trusted_exchange(rq *q, const cl_url *u, httpa_msg *m, httpa_client_txn *txn,
                                  bool *gone)
{
    const httpa_curl_req *r = q->req;
    cl_exchange x;
    cl_exchange_init(&x, q->c, u, m, txn);
    if (r->has_body) {
        x.src.req = r;
        x.src.declared = r->read ? r->body_len : r->body.len;
    }
    x.write = r->write;
    x.write_arg = r->write_arg;
    httpa_err e = cl_exchange_run(&x);
    q->body_started |= x.src.taken != 0;
    *gone = base_gone(&x, e);
    keep_response(q, &x);
    if (e != HTTPA_OK) {
        rq_exchange_fail(q, &x, "");
    } else {
        cl_say(q->c, HTTPA_CURL_INFO_ATTEST, "response body: %llu octets verified",
               (unsigned long long)x.delivered);
    }
    cl_exchange_free(&x);
    return e;
}

static httpa_err trusted(rq *q, const cl_url *u, cl_base *b, bool *gone, bool *sent)
{
    const httpa_curl_req *r = q->req;
    httpa_seal_opts o = {
        .has_body = r->has_body,
        .content_length = !r->has_body ? 0 : r->read ? r->body_len : r->body.len,
        .seal = r->seal,
        .hide_target = r->hide_target,
        .terminate = r->terminate,
    };
    httpa_client_txn *txn = NULL;
    httpa_msg m;
    httpa_msg_init_request(&m);
    httpa_err e = build_request(q, u, &m);
    if (e == HTTPA_OK && (e = note_fields(q->resp, &m)) != HTTPA_OK)
        rq_fail(q, e, "out of memory");
    size_t target_len = m.target_len;
    if (e == HTTPA_OK) {
        e = httpa_client_protect(b->base, &m, &o, &txn);
        *gone = e == HTTPA_ERR_EXPIRED_BASE; /* closed or at its usage limit: never sent */
        if (e != HTTPA_OK)
            rq_fail(q, e, "cannot protect the request: %s%s", httpa_strerror(e),
                    e == HTTPA_ERR_INVALID_ARG ? " (a field that may not be sealed?)" : "");
    }
    if (e == HTTPA_OK) {
        mark_sealed(q->resp, &m);
        q->resp->target_sealed = r->hide_target;
        q->resp->target_len = r->hide_target ? target_len : 0;
        report_request(q, &m);
        *sent = true;
        q->resp->attempts++;
        e = trusted_exchange(q, u, &m, txn, gone);
    }
    httpa_client_txn_free(txn);
    httpa_msg_free(&m);
    return e;
}

/* ---- the request ---- */

static httpa_err check_request(rq *q, const cl_url *u)
{
    const httpa_curl_req *r = q->req;
    if (r->has_body && r->read == NULL && r->body.base == NULL && r->body.len != 0)
        return rq_fail(q, HTTPA_ERR_INVALID_ARG, "request body without octets");
    if (r->nsecrets != 0 && (r->secret_names == NULL || r->secret_values == NULL))
        return rq_fail(q, HTTPA_ERR_INVALID_ARG, "secrets without names or values");
    if (strcmp(q->method, "ATTEST") == 0 || strcmp(q->method, "CONNECT") == 0)
        return rq_fail(q, HTTPA_ERR_INVALID_ARG, "%s cannot be a Trusted Transaction",
                       q->method);
    if (!tchar(q->method[0]) || strspn(q->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                  "qrstuvwxyz0123456789!#$%&'*+-.^_`|~") !=
                                    strlen(q->method))
        return rq_fail(q, HTTPA_ERR_INVALID_ARG, "invalid method");
    httpa_msg m; /* the fields, checked before anything goes out */
    httpa_msg_init_request(&m);
    httpa_err e = build_request(q, u, &m);
    httpa_msg_free(&m);
    return e;
}

/* May the request go out again on a new base (profile 13.3)? */
static bool retryable(rq *q, bool sent)
{
    const httpa_curl_req *r = q->req;
    if (!sent)
        return true; /* nothing reached the service */
    if (!idempotent(q->method)) {
        size_t n = strlen(q->resp->message);
        snprintf(q->resp->message + n, sizeof(q->resp->message) - n,
                 "; not retried: %s is not idempotent and may have been processed", q->method);
        return false;
    }
    if (r->has_body && r->read != NULL && q->body_started)
        return r->rewind != NULL && r->rewind(r->read_arg) == HTTPA_OK;
    return true;
}

static httpa_err run(rq *q, const cl_url *u)
{
    httpa_curl_client *c = q->c;
    bool force = q->req->new_base;
    httpa_err e;
    for (unsigned attempt = 1;; attempt++) {
        cl_base *b = NULL;
        bool gone = false, sent = false;
        e = cl_base_acquire(c, u, force, handshake, q, &b);
        force = false;
        if (e != HTTPA_OK)
            return q->resp->err == e ? e : rq_fail(q, e, "%s", httpa_strerror(e));
        q->resp->attestation = b->att;
        if (!q->resp->handshake)
            cl_say(c, HTTPA_CURL_INFO_ATTEST, "reusing Attest Base %s", b->att.base_id);
        if (q->req->nsecrets != 0)
            e = provision(q, u, b, &gone);
        if (e == HTTPA_OK)
            e = trusted(q, u, b, &gone, &sent);
        if (gone || e == HTTPA_ERR_BAD_TICKET || (e == HTTPA_OK && q->req->terminate))
            cl_base_forget(c, u, b); /* a bad binder: stop using the base (12.2) */
        cl_base_release(c, b);
        if (!gone || attempt >= c->cfg.max_attempts || !retryable(q, sent))
            return e;
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "Attest Base gone (%s): new handshake, %s", tok(e),
               sent ? "retrying the idempotent request" : "the request was not sent yet");
    }
}

httpa_err httpa_curl_request(httpa_curl_client *c, const httpa_curl_req *req,
                             httpa_curl_resp *resp)
{
    httpa_curl_resp_free(resp);
    if (c == NULL || req == NULL) {
        resp->cls = HTTPA_CURL_CLASS_LOCAL;
        return resp->err = HTTPA_ERR_INVALID_ARG;
    }
    rq q = {.c = c, .req = req, .resp = resp};
    q.method = req->method ? req->method : req->has_body ? "POST" : "GET";
    cl_url u;
    httpa_err e = cl_url_parse(req->url, &u, resp->message, sizeof(resp->message));
    if (e == HTTPA_OK) {
        e = check_request(&q, &u);
        if (e == HTTPA_OK)
            e = run(&q, &u);
        cl_url_free(&u);
    }
    resp->err = e;
    resp->cls = httpa_curl_err_class(e);
    if (e == HTTPA_OK)
        resp->message[0] = '\0';
    else if (resp->message[0] == '\0')
        snprintf(resp->message, sizeof(resp->message), "%s", httpa_strerror(e));
    return e;
}
