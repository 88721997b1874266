/* The server side of AtSP and TrT: the processing order of profile 12.1,
 * response protection (9, 10) and the end of an Attest Base (15.2).
 *
 * Steps 1 to 8 run before the request is authenticated: their errors carry
 * no binder and change no state; the only state change, the window commit,
 * happens in step 8 under the base lock. From there on every answer,
 * including errors, is protected under the base's s_ap keys with the
 * request's seq and bound to its ticket_mac by the binder. */
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "engine/session.h"
#include "engine/txn.h"

static const char *const always_sealed[] = {"set-cookie", NULL};
static const char *const engine_fields[] = {"attest-binder", "attest-cargo", "attest-secrets",
                                            "attest-ticket", NULL};

struct httpa_server_txn {
    httpa_server *srv;
    httpa_base *base;                  /* one reference */
    const httpa_suite *suite;
    uint64_t seq;
    uint8_t ticket_mac[HTTPA_MAX_HASH];
    uint8_t req_core[HTTPA_MAX_HASH];  /* Hash(AHL(request, X_core)): request AAD */
    bool atsp;
    bool head;                         /* the application's method is HEAD */
    bool ends_base;                    /* committed a termination or the usage limit */
    bool responded;                    /* response items sealed: never again (nonces) */
    httpa_traffic c_ap;                /* own AEAD contexts, keyed from the base */
    httpa_traffic s_ap;
    httpa_buf cargo_plain;             /* sensitive; `cargo` points into it */
    httpa_cargo cargo;
    httpa_secret_set secrets;          /* AtSP: the provisioned secrets */
    httpa_stream req_body;
    bool req_on;
    httpa_stream resp_body;
    bool resp_on;
};

/* What steps 1 to 8 learn about the request. */
typedef struct open_ctx {
    httpa_fields f;
    httpa_base *base;                  /* one reference once step 2 passed */
    const httpa_suite *suite;
    bool atsp;
    bool terminate;
    bool utr;
    bool ends_base;
    uint64_t seq;
    const uint8_t *mac;                /* into the parsed ticket */
} open_ctx;

static const httpa_limits *limits_of(const httpa_server *s)
{
    return &s->cfg.limits;
}

static bool token_is(const httpa_sf_bare *b, const char *tok)
{
    return b->type == HTTPA_SF_TOKEN && httpa_sf_bare_is(b, tok);
}

/* An unauthenticated error (steps 1 to 8): Attest-Error and problem+json. */
static void plain_error(httpa_err e, httpa_msg *resp, httpa_buf *body)
{
    int status = httpa_err_status(e);
    httpa_msg_free(resp);
    httpa_msg_init_response(resp, status);
    httpa_buf_reset(body);
    httpa_err r = httpa__problem(e, status, NULL, resp, body);
    (void)r; /* the caller gets `e` either way */
}

/* ---- steps 1 to 8: before authentication, no state change ---- */

/* Step 1 (and 3.3): a CONNECT is never a TrT; parse every Attest-* field. */
static httpa_err step_parse(const httpa_server *s, const httpa_msg *req, open_ctx *c)
{
    if (req->is_response || req->method == NULL || req->target == NULL)
        return HTTPA_ERR_BAD_REQUEST;
    if (httpa_msg_method_is(req, "CONNECT"))
        return HTTPA_ERR_BAD_REQUEST;
    c->atsp = httpa_msg_method_is(req, "ATTEST");
    return httpa_fields_parse(req, limits_of(s), &c->f);
}

/* Step 2: a valid, known, live Attest-Base-ID. */
static httpa_err step_base(httpa_server *s, int64_t now, open_ctx *c)
{
    const httpa_sf_bare *id = httpa_fields_item(&c->f, HTTPA_F_BASE_ID);
    if (id == NULL || id->type != HTTPA_SF_STRING || !httpa_base_id_valid(id->bytes, id->len))
        return HTTPA_ERR_BAD_REQUEST;
    httpa_err e = httpa_store_get(s->store, (const char *)id->bytes, id->len, now, &c->base);
    if (e == HTTPA_OK)
        c->suite = c->base->suite;
    return e;
}

/* Step 3: the ticket, or a UtR where the base allows one (6.5). */
static httpa_err step_ticket(open_ctx *c)
{
    const httpa_sf_bare *t = httpa_fields_item(&c->f, HTTPA_F_TICKET);
    if (t == NULL) {
        c->utr = !c->atsp && c->base->allow_untrusted;
        return c->utr ? HTTPA_OK : HTTPA_ERR_BAD_TICKET;
    }
    if (t->type != HTTPA_SF_BINARY)
        return HTTPA_ERR_BAD_TICKET;
    httpa_err e = httpa_auth_split(c->suite, HTTPA_SPAN(t->bytes, t->len), &c->seq, &c->mac);
    if (e != HTTPA_OK || c->seq >= HTTPA_SEQ_LIMIT)
        return HTTPA_ERR_BAD_TICKET;
    return HTTPA_OK;
}

/* Step 4: the fields an AtSP or TrT must and must not have. */
static httpa_err step_structure(open_ctx *c)
{
    const httpa_fields *f = &c->f;
    if (!httpa_fields_has(f, HTTPA_F_CARGO) || c->atsp != httpa_fields_has(f, HTTPA_F_SECRETS))
        return HTTPA_ERR_BAD_REQUEST;
    if (httpa_fields_has(f, HTTPA_F_BINDER) || httpa_fields_has(f, HTTPA_F_QUOTES) ||
        httpa_fields_has(f, HTTPA_F_SIGNATURE))
        return HTTPA_ERR_BAD_REQUEST;
    const httpa_sf_bare *term = httpa_fields_item(f, HTTPA_F_BASE_TERMINATION);
    if (httpa_fields_has(f, HTTPA_F_BASE_TERMINATION) &&
        (term == NULL || !(token_is(term, "cleanup") || token_is(term, "destroy") ||
                           token_is(term, "keep"))))
        return HTTPA_ERR_BAD_REQUEST;
    c->terminate = term != NULL; /* every token ends the AtB (15.2) */
    return HTTPA_OK;
}

/* Under the base lock: may a request be committed now? */
static httpa_err admissible_locked(const httpa_base *b, uint64_t seq)
{
    if (b->terminated || b->accepted >= HTTPA_MAX_REQUESTS)
        return HTTPA_ERR_EXPIRED_BASE;
    return httpa_window_fresh(&b->window, seq) ? HTTPA_OK : HTTPA_ERR_REPLAY;
}

/* Steps 5 and 6: usage limit and fresh(seq); read only. */
static httpa_err step_window(open_ctx *c)
{
    pthread_mutex_lock(&c->base->lock);
    httpa_err e = admissible_locked(c->base, c->seq);
    pthread_mutex_unlock(&c->base->lock);
    return e;
}

/* Step 7: the ticket MAC over Hash(AHL(request, X_full)), constant-time. */
static httpa_err step_mac(const httpa_msg *req, open_ctx *c)
{
    uint8_t full[HTTPA_MAX_HASH], mac[HTTPA_MAX_HASH];
    httpa_err e = httpa__ahl_hash(req, &c->f, HTTPA_X_FULL, c->suite, full);
    if (e == HTTPA_OK)
        e = httpa_ticket_mac(c->suite, c->base->c_ap.mac_key, c->seq, full, mac);
    if (e == HTTPA_OK && !httpa_ct_equal(mac, c->mac, c->suite->hlen))
        e = HTTPA_ERR_BAD_TICKET;
    httpa_wipe(mac, sizeof(mac));
    return e;
}

/* Step 8: atomically fresh(seq) again and commit(seq). A termination, or
 * the 2^24th request, ends the base from this commit on (9.6, 15.2). */
static httpa_err step_commit(open_ctx *c)
{
    httpa_base *b = c->base;
    pthread_mutex_lock(&b->lock);
    httpa_err e = admissible_locked(b, c->seq);
    if (e == HTTPA_OK) {
        httpa_window_commit(&b->window, c->seq);
        b->accepted++;
        if (c->terminate || b->accepted >= HTTPA_MAX_REQUESTS) {
            b->terminated = true;
            c->ends_base = true;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return e;
}

static httpa_err authenticate(httpa_server *s, const httpa_msg *req, int64_t now, open_ctx *c)
{
    httpa_err e = step_parse(s, req, c);
    if (e == HTTPA_OK)
        e = step_base(s, now, c);
    if (e == HTTPA_OK)
        e = step_ticket(c);
    if (e != HTTPA_OK || c->utr)
        return e;
    e = step_structure(c);
    if (e == HTTPA_OK)
        e = step_window(c);
    if (e == HTTPA_OK)
        e = step_mac(req, c);
    if (e == HTTPA_OK)
        e = step_commit(c);
    return e;
}

/* ---- the transaction ---- */

static httpa_err txn_new(httpa_server *s, const httpa_msg *req, open_ctx *c,
                         httpa_server_txn **out)
{
    httpa_server_txn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HTTPA_ERR_NOMEM;
    t->srv = s;
    t->base = c->base; /* the reference moves to the transaction */
    c->base = NULL;
    t->ends_base = c->ends_base;
    t->suite = c->suite;
    t->seq = c->seq;
    t->atsp = c->atsp;
    memcpy(t->ticket_mac, c->mac, c->suite->hlen);
    httpa_buf_init_sensitive(&t->cargo_plain, limits_of(s)->max_cargo);
    *out = t;
    httpa_err e = httpa__txn_keys(&t->c_ap, &t->base->c_ap);
    if (e == HTTPA_OK)
        e = httpa__txn_keys(&t->s_ap, &t->base->s_ap);
    if (e == HTTPA_OK)
        e = httpa__ahl_hash(req, &c->f, HTTPA_X_CORE, t->suite, t->req_core);
    return e;
}

/* ---- steps 9 to 12: authenticated ---- */

/* Step 9: the Cargo; a sealed target only in a TrT. */
static httpa_err step_cargo(httpa_server_txn *t, const httpa_fields *f)
{
    httpa_err e = httpa__cargo_open(&t->c_ap, t->seq, t->req_core, f, limits_of(t->srv),
                                    &t->cargo_plain, &t->cargo);
    if (e != HTTPA_OK || !(t->cargo.flags & HTTPA_CARGO_TARGET))
        return e;
    httpa_span m = t->cargo.method;
    bool bad_method = (m.len == 6 && memcmp(m.base, "ATTEST", 6) == 0) ||
                      (m.len == 7 && memcmp(m.base, "CONNECT", 7) == 0);
    return t->atsp || bad_method ? HTTPA_ERR_BAD_REQUEST : HTTPA_OK;
}

/* Step 10: open the AtSP secrets and let the TService validate them. */
static httpa_err step_secrets(httpa_server_txn *t, const httpa_fields *f)
{
    const httpa_server_config *cfg = &t->srv->cfg;
    httpa_err e = httpa__secrets_open(&t->c_ap, t->seq, t->req_core, f, limits_of(t->srv),
                                      &t->secrets);
    if (e != HTTPA_OK || !t->atsp || cfg->validate_secrets == NULL)
        return e;
    bool ok = cfg->validate_secrets(cfg->validate_arg, (const char *const *)t->secrets.names,
                                    t->secrets.spans, t->secrets.n);
    return ok ? HTTPA_OK : HTTPA_ERR_POLICY_VIOLATION; /* 422, provisions nothing */
}

/* Step 11: sealed fields, outer Content-Encoding, content without a body. */
static httpa_err step_sealed(const httpa_server_txn *t, const httpa_msg *req)
{
    httpa_err e = httpa__check_sealed(req, &t->cargo);
    if (e == HTTPA_OK)
        e = httpa__check_no_content(req, &t->cargo);
    return e;
}

/* Step 12: restore the request for the application (9.4) and get ready
 * for its body records. */
static httpa_err step_restore(httpa_server_txn *t, httpa_msg *req)
{
    const httpa_cargo *c = &t->cargo;
    httpa_err e = HTTPA_OK;
    if (c->flags & HTTPA_CARGO_TARGET)
        e = httpa_msg_set_request_line(req, (const char *)c->method.base, c->method.len,
                                       (const char *)c->target.base, c->target.len);
    if (e == HTTPA_OK)
        e = httpa__restore(req, c, true);
    if (e != HTTPA_OK)
        return e == HTTPA_ERR_NOMEM ? e : HTTPA_ERR_INTERNAL;
    t->head = httpa_msg_method_is(req, "HEAD");
    return httpa__body_start(&t->req_body, &t->req_on, &t->c_ap, t->seq, t->req_core, c,
                             limits_of(t->srv)->max_body);
}

/* Grow the base's secret arrays to hold `more` further entries. */
static httpa_err base_reserve_secrets(httpa_base *b, size_t more)
{
    size_t n = b->nsecrets + more;
    char **names = realloc(b->secret_names, n * sizeof(*names));
    if (names == NULL)
        return HTTPA_ERR_NOMEM;
    b->secret_names = names;
    httpa_buf *values = realloc(b->secret_values, n * sizeof(*values));
    if (values == NULL)
        return HTTPA_ERR_NOMEM;
    b->secret_values = values;
    return HTTPA_OK;
}

/* Under the base lock: store one secret, replacing one of the same name.
 * Cannot fail: `name` and `value` are ready-made and change owner. */
static void base_put_secret(httpa_base *b, char *name, httpa_buf *value)
{
    for (size_t k = 0; k < b->nsecrets; k++) {
        if (strcmp(b->secret_names[k], name) == 0) {
            httpa_buf_free(&b->secret_values[k]);
            b->secret_values[k] = *value;
            free(name);
            return;
        }
    }
    b->secret_names[b->nsecrets] = name;
    b->secret_values[b->nsecrets] = *value;
    b->nsecrets++;
}

/* Copies of the transaction's secrets for the base; all or nothing. */
static httpa_err copy_secrets(const httpa_secret_set *s, char **names, httpa_buf *values)
{
    for (size_t i = 0; i < s->n; i++) {
        httpa_buf_init_sensitive(&values[i], SIZE_MAX);
        names[i] = strdup(s->names[i]);
        if (names[i] == NULL || httpa_buf_append(&values[i], s->spans[i].base,
                                                 s->spans[i].len) != HTTPA_OK) {
            for (size_t k = 0; k <= i; k++) {
                free(names[k]);
                httpa_buf_free(&values[k]);
            }
            return HTTPA_ERR_NOMEM;
        }
    }
    return HTTPA_OK;
}

/* AtSP accepted in full: provision its secrets into the base. */
static httpa_err provision(httpa_server_txn *t)
{
    const httpa_secret_set *s = &t->secrets;
    if (!t->atsp || s->n == 0)
        return HTTPA_OK;
    char **names = calloc(s->n, sizeof(*names));
    httpa_buf *values = calloc(s->n, sizeof(*values));
    httpa_err e = names && values ? copy_secrets(s, names, values) : HTTPA_ERR_NOMEM;
    httpa_base *b = t->base;
    pthread_mutex_lock(&b->lock);
    if (e == HTTPA_OK)
        e = base_reserve_secrets(b, s->n);
    if (e == HTTPA_OK)
        for (size_t i = 0; i < s->n; i++)
            base_put_secret(b, names[i], &values[i]);
    pthread_mutex_unlock(&b->lock);
    if (e != HTTPA_OK && names != NULL && values != NULL)
        for (size_t i = 0; i < s->n; i++) {
            free(names[i]);
            httpa_buf_free(&values[i]);
        }
    free(names);
    free(values);
    return e;
}

static httpa_err open_authenticated(httpa_server_txn *t, httpa_msg *req, const httpa_fields *f)
{
    httpa_err e = step_cargo(t, f);
    if (e == HTTPA_OK)
        e = step_secrets(t, f);
    if (e == HTTPA_OK)
        e = step_sealed(t, req);
    if (e == HTTPA_OK)
        e = step_restore(t, req);
    if (e == HTTPA_OK)
        e = provision(t);
    return e;
}

/* ---- entry points ---- */

/* Steps 1 to 8 failed (or a UtR): release what they took; answer without
 * a binder. */
static httpa_err refuse(httpa_server *s, open_ctx *c, httpa_err e, httpa_msg *resp,
                        httpa_buf *body)
{
    if (c->base != NULL)
        httpa_store_put(s->store, c->base);
    if (e == HTTPA_OK)
        return HTTPA_OK;
    e = httpa__wire_err(e);
    plain_error(e, resp, body);
    return e;
}

/* A step after the commit failed: the error response carries a binder. */
static httpa_err refuse_bound(httpa_server_txn *t, httpa_err e, httpa_msg *resp, httpa_buf *body)
{
    e = httpa__wire_err(e);
    if (httpa_server_txn_error(t, e, NULL, resp, body) != HTTPA_OK)
        plain_error(HTTPA_ERR_INTERNAL, resp, body);
    httpa_server_txn_free(t);
    return e;
}

httpa_err httpa_server_open(httpa_server *s, httpa_msg *req, int64_t now, httpa_server_txn **txn,
                            httpa_msg *resp, httpa_buf *body)
{
    if (txn != NULL)
        *txn = NULL;
    if (s == NULL || req == NULL || txn == NULL || resp == NULL || body == NULL)
        return HTTPA_ERR_INVALID_ARG;
    open_ctx c;
    memset(&c, 0, sizeof(c));
    httpa_err e = authenticate(s, req, now, &c);
    if (e != HTTPA_OK || c.utr) {
        httpa_fields_free(&c.f);
        return refuse(s, &c, e, resp, body);
    }
    httpa_server_txn *t = NULL;
    e = txn_new(s, req, &c, &t);
    if (e == HTTPA_OK)
        e = open_authenticated(t, req, &c.f);
    httpa_fields_free(&c.f);
    if (t == NULL) { /* no memory after the commit: nothing to key a binder with */
        if (c.ends_base)
            httpa_store_remove(s->store, c.base);
        return refuse(s, &c, HTTPA_ERR_INTERNAL, resp, body);
    }
    if (e != HTTPA_OK)
        return refuse_bound(t, e, resp, body);
    *txn = t;
    return HTTPA_OK;
}

httpa_err httpa_server_txn_body(httpa_server_txn *t, httpa_span wire, bool fin, httpa_buf *plain)
{
    if (t == NULL || plain == NULL)
        return HTTPA_ERR_INVALID_ARG;
    return httpa__body_feed(&t->req_body, t->req_on, wire, fin, plain);
}

size_t httpa_server_txn_secrets(const httpa_server_txn *t, const char *const **names,
                                const httpa_span **values)
{
    if (t == NULL || names == NULL || values == NULL)
        return 0;
    *names = (const char *const *)t->secrets.names;
    *values = t->secrets.spans;
    return t->secrets.n;
}

const httpa_appraisal *httpa_server_txn_client(const httpa_server_txn *t)
{
    return t != NULL && t->base->client_attested ? &t->base->client_appraisal : NULL;
}

const char *httpa_server_txn_client_tee(const httpa_server_txn *t)
{
    return t != NULL && t->base->client_attested ? t->base->client_tee : NULL;
}

/* ---- the response ---- */

static bool response_bodyless(const httpa_server_txn *t, int status)
{
    return t->head || status == 204 || status == 304;
}

static httpa_err check_response(const httpa_server_txn *t, const httpa_msg *resp,
                                const httpa_seal_opts *o)
{
    if (t->s_ap.aead == NULL)
        return HTTPA_ERR_INTERNAL; /* keying failed when the request was opened */
    if (!resp->is_response || resp->status < 200 || resp->status > 599)
        return HTTPA_ERR_INVALID_ARG; /* interim responses carry no binder */
    for (size_t i = 0; i < resp->nheaders; i++)
        if (httpa__name_in(resp->headers[i].name, resp->headers[i].name_len, engine_fields))
            return HTTPA_ERR_INVALID_ARG;
    if (o == NULL)
        return HTTPA_OK;
    if (o->nsecrets != 0 && (!t->atsp || o->secret_names == NULL || o->secret_values == NULL))
        return HTTPA_ERR_INVALID_ARG; /* secrets only on AtSP responses (12.2) */
    if (o->has_body && response_bodyless(t, resp->status))
        return HTTPA_ERR_INVALID_ARG;
    if (o->record_size != 0 && (o->record_size < HTTPA_RS_MIN || o->record_size > HTTPA_RS_MAX))
        return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

/* Seal the Cargo and secrets, then add the binder (profile 10) last. */
static httpa_err protect_response(httpa_server_txn *t, httpa_msg *resp, const httpa_seal_opts *o,
                                  const httpa_outgoing *og, const uint8_t *core, httpa_fields *f)
{
    const httpa_suite *s = t->suite;
    uint8_t full[HTTPA_MAX_HASH], mac[HTTPA_MAX_HASH];
    size_t n = o != NULL ? o->nsecrets : 0;
    t->responded = true; /* from here nonces of this response are spent */
    httpa_err e = httpa__seal_items(&t->s_ap, t->seq, core, httpa_buf_span(&og->plain),
                                    n ? o->secret_names : NULL, n ? o->secret_values : NULL, n,
                                    resp, f);
    if (e == HTTPA_OK)
        e = httpa__ahl_hash(resp, f, HTTPA_X_FULL, s, full);
    if (e == HTTPA_OK)
        e = httpa_binder_mac(s, t->s_ap.mac_key, t->seq, t->ticket_mac, full, mac);
    if (e == HTTPA_OK)
        e = httpa__add_auth(resp, "Attest-Binder", t->seq, mac, s->hlen);
    return e;
}

/* Start the record sealer of a response body. */
static httpa_err start_response_body(httpa_server_txn *t, const httpa_seal_opts *o, uint32_t rs,
                                     const uint8_t *core)
{
    if (o == NULL || !o->has_body)
        return HTTPA_OK;
    httpa_err e = httpa_stream_init(&t->resp_body, &t->s_ap, t->seq, core, rs, o->content_length,
                                    UINT64_MAX);
    t->resp_on = e == HTTPA_OK;
    return e;
}

httpa_err httpa_server_txn_respond(httpa_server_txn *t, httpa_msg *resp,
                                   const httpa_seal_opts *opts)
{
    if (t == NULL || resp == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (t->responded)
        return HTTPA_ERR_BAD_STATE;
    httpa_err e = check_response(t, resp, opts);
    if (e != HTTPA_OK)
        return e;
    const httpa_limits *lim = limits_of(t->srv);
    uint32_t rs = opts != NULL && opts->record_size != 0 ? opts->record_size : lim->record_size;
    uint8_t core[HTTPA_MAX_HASH];
    httpa_outgoing og;
    e = httpa__outgoing_build(resp, always_sealed, opts, rs, false, lim, &og);
    size_t app = resp->nheaders;
    /* The application's Attest-* lines (Attest-Error, say), parsed once;
     * the engine's own lines join them unparsed (fields.h). */
    httpa_fields f;
    if (e == HTTPA_OK)
        e = httpa_fields_parse(resp, lim, &f);
    else
        httpa_fields_init(&f, lim);
    if (e == HTTPA_OK)
        e = httpa__ahl_hash(resp, &f, HTTPA_X_CORE, t->suite, core);
    if (e == HTTPA_OK)
        e = start_response_body(t, opts, rs, core);
    if (e == HTTPA_OK)
        e = protect_response(t, resp, opts, &og, core, &f);
    httpa_fields_free(&f);
    size_t eng = resp->nheaders;
    bool zero = !(opts != NULL && opts->has_body) && !response_bodyless(t, resp->status);
    if (e == HTTPA_OK)
        e = httpa__add_tail(resp, opts, rs, zero);
    if (e == HTTPA_OK)
        e = httpa__arrange(resp, app, eng);
    httpa__outgoing_free(&og);
    return e;
}

httpa_err httpa_server_txn_seal(httpa_server_txn *t, httpa_span plain, bool fin, httpa_buf *wire)
{
    if (t == NULL || wire == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (!t->responded)
        return HTTPA_ERR_BAD_STATE;
    if (!t->resp_on)
        return plain.len == 0 ? HTTPA_OK : HTTPA_ERR_INVALID_ARG;
    return httpa_stream_seal(&t->resp_body, plain, fin, wire);
}

httpa_err httpa_server_txn_error(httpa_server_txn *t, httpa_err err, const char *detail,
                                 httpa_msg *resp, httpa_buf *body)
{
    if (t == NULL || resp == NULL || body == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (t->responded)
        return HTTPA_ERR_BAD_STATE;
    err = httpa__wire_err(err);
    /* After authentication a policy_violation is a rejected AtSP: 422 (13.1). */
    int status = err == HTTPA_ERR_POLICY_VIOLATION ? 422 : httpa_err_status(err);
    httpa_buf problem;
    httpa_buf_init_sensitive(&problem, SIZE_MAX);
    httpa_msg_free(resp);
    httpa_msg_init_response(resp, status);
    httpa_buf_reset(body);
    httpa_err e = httpa__problem(err, status, detail, resp, &problem);
    httpa_seal_opts o = {.content_length = problem.len, .has_body = !t->head};
    if (e == HTTPA_OK)
        e = httpa_server_txn_respond(t, resp, &o);
    if (e == HTTPA_OK && o.has_body)
        e = httpa_server_txn_seal(t, httpa_buf_span(&problem), true, body);
    httpa_buf_free(&problem);
    return e;
}

void httpa_server_txn_free(httpa_server_txn *t)
{
    if (t == NULL)
        return;
    if (t->req_on)
        httpa_stream_free(&t->req_body);
    if (t->resp_on)
        httpa_stream_free(&t->resp_body);
    httpa_traffic_wipe(&t->c_ap);
    httpa_traffic_wipe(&t->s_ap);
    httpa_cargo_clear(&t->cargo);
    httpa_buf_free(&t->cargo_plain);
    httpa__secrets_free(&t->secrets);
    httpa_store *st = t->srv->store;
    httpa_base *b = t->base;
    /* A terminating request's base leaves the store now; its keys are
     * zeroized when the last transaction that uses it ends (15.2). */
    if (t->ends_base)
        httpa_store_remove(st, b);
    httpa_store_put(st, b);
    httpa_wipe(t, sizeof(*t));
    free(t);
}

/* httpa_server_sweep and httpa_server_base_count live with httpa_server_new
 * in handshake_server.c. */
