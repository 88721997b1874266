/* The client side of AtSP and TrT: protect a request (profile 9, 10) and
 * verify and open its response (12.2). */
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "engine/session.h"
#include "engine/txn.h"

static const char *const always_sealed[] = {"authorization", "cookie", NULL};
static const char *const engine_fields[] = {"attest-base-id", "attest-base-termination",
                                            "attest-binder", "attest-cargo", "attest-secrets",
                                            "attest-ticket", NULL};

struct httpa_client_txn {
    httpa_client_base *base;           /* one reference */
    const httpa_suite *suite;
    uint64_t seq;
    uint8_t ticket_mac[HTTPA_MAX_HASH];
    bool atsp;
    bool terminate;
    bool verified;                     /* the response's binder verified */
    httpa_traffic c_ap;                /* own AEAD contexts, keyed from the base */
    httpa_traffic s_ap;
    httpa_stream req_body;
    bool req_on;
    httpa_buf cargo_plain;             /* the response's CargoPlain (sensitive) */
    httpa_cargo cargo;
    httpa_secret_set secrets;          /* AtSP response secrets */
    httpa_stream resp_body;
    bool resp_on;
};

/* httpa_client_base_release (the last reference wipes keys and secrets)
 * lives with the base's constructor in handshake_client.c. */

/* ---- protecting a request ---- */

static httpa_err check_request(const httpa_msg *req, const httpa_seal_opts *o, bool atsp)
{
    if (req->is_response || req->method == NULL || req->target == NULL ||
        httpa_msg_method_is(req, "CONNECT"))
        return HTTPA_ERR_INVALID_ARG; /* a CONNECT is never a TrT (3.3) */
    for (size_t i = 0; i < req->nheaders; i++)
        if (httpa__name_in(req->headers[i].name, req->headers[i].name_len, engine_fields))
            return HTTPA_ERR_INVALID_ARG;
    size_t n = o != NULL ? o->nsecrets : 0;
    if (atsp != (n != 0) || (n != 0 && (o->secret_names == NULL || o->secret_values == NULL)))
        return HTTPA_ERR_INVALID_ARG; /* an AtSP has secrets, a TrT none */
    if (o != NULL && atsp && o->hide_target)
        return HTTPA_ERR_INVALID_ARG; /* TARGET only in a TrT (9.3) */
    if (o != NULL && o->record_size != 0 &&
        (o->record_size < HTTPA_RS_MIN || o->record_size > HTTPA_RS_MAX))
        return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

/* A transaction with its own keys and the next sequence number. */
static httpa_err txn_new(httpa_client_base *b, bool atsp, const httpa_seal_opts *o,
                         httpa_client_txn **out)
{
    if (atomic_load(&b->closed))
        return HTTPA_ERR_EXPIRED_BASE;
    uint64_t seq = atomic_fetch_add(&b->next_seq, 1);
    if (seq >= HTTPA_MAX_REQUESTS)
        return HTTPA_ERR_EXPIRED_BASE; /* usage limit (9.6): run a new AtHS */
    httpa_client_txn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return HTTPA_ERR_NOMEM;
    atomic_fetch_add(&b->refs, 1);
    t->base = b;
    t->suite = b->suite;
    t->seq = seq;
    t->atsp = atsp;
    t->terminate = o != NULL && o->terminate;
    httpa_buf_init_sensitive(&t->cargo_plain, b->limits.max_cargo);
    *out = t;
    httpa_err e = httpa__txn_keys(&t->c_ap, &b->c_ap);
    if (e == HTTPA_OK)
        e = httpa__txn_keys(&t->s_ap, &b->s_ap);
    return e;
}

/* Attest-Base-ID and, when asked, Attest-Base-Termination: cleanup. */
static httpa_err add_base_fields(const httpa_client_txn *t, httpa_msg *req, httpa_fields *f)
{
    httpa_buf v;
    httpa_buf_init(&v, SIZE_MAX);
    httpa_err e = httpa_sf_put_string(&v, t->base->id, strlen(t->base->id));
    if (e == HTTPA_OK)
        e = httpa__add_own(req, f, HTTPA_F_BASE_ID, "Attest-Base-ID", &v);
    httpa_buf_reset(&v);
    if (e == HTTPA_OK && t->terminate && (e = httpa_buf_append_str(&v, "cleanup")) == HTTPA_OK)
        e = httpa__add_own(req, f, HTTPA_F_BASE_TERMINATION, "Attest-Base-Termination", &v);
    httpa_buf_free(&v);
    return e;
}

/* Start the record sealer of the request body. */
static httpa_err start_request_body(httpa_client_txn *t, const httpa_seal_opts *o, uint32_t rs,
                                    const uint8_t *core)
{
    if (o == NULL || !o->has_body)
        return HTTPA_OK;
    httpa_err e = httpa_stream_init(&t->req_body, &t->c_ap, t->seq, core, rs, o->content_length,
                                    UINT64_MAX);
    t->req_on = e == HTTPA_OK;
    return e;
}

/* Items under c_ap, then the ticket over Hash(AHL(request, X_full)). */
static httpa_err seal_and_ticket(httpa_client_txn *t, httpa_msg *req, const httpa_seal_opts *o,
                                 const httpa_outgoing *og, const uint8_t *core, httpa_fields *f)
{
    const httpa_suite *s = t->suite;
    uint8_t full[HTTPA_MAX_HASH];
    size_t n = o != NULL ? o->nsecrets : 0;
    httpa_err e = httpa__seal_items(&t->c_ap, t->seq, core, httpa_buf_span(&og->plain),
                                    n ? o->secret_names : NULL, n ? o->secret_values : NULL, n,
                                    req, f);
    if (e == HTTPA_OK)
        e = httpa__ahl_hash(req, f, HTTPA_X_FULL, s, full);
    if (e == HTTPA_OK)
        e = httpa_ticket_mac(s, t->c_ap.mac_key, t->seq, full, t->ticket_mac);
    if (e == HTTPA_OK)
        e = httpa__add_auth(req, "Attest-Ticket", t->seq, t->ticket_mac, s->hlen);
    return e;
}

static httpa_err protect_request(httpa_client_txn *t, httpa_msg *req, const httpa_seal_opts *o)
{
    const httpa_limits *lim = &t->base->limits;
    uint32_t rs = o != NULL && o->record_size != 0 ? o->record_size : lim->record_size;
    bool hide = o != NULL && o->hide_target;
    uint8_t core[HTTPA_MAX_HASH];
    httpa_outgoing og;
    httpa_err e = httpa__outgoing_build(req, always_sealed, o, rs, hide, lim, &og);
    if (e == HTTPA_OK && hide)
        e = httpa_msg_set_request_line(req, HTTPA_SEALED_TARGET_METHOD,
                                       strlen(HTTPA_SEALED_TARGET_METHOD), HTTPA_SEALED_TARGET,
                                       strlen(HTTPA_SEALED_TARGET));
    size_t app = req->nheaders;
    /* The application's Attest-* lines, parsed once; the engine's own lines
     * join them as they are added, without a parse (fields.h). */
    httpa_fields f;
    if (e == HTTPA_OK)
        e = httpa_fields_parse(req, lim, &f);
    else
        httpa_fields_init(&f, lim);
    if (e == HTTPA_OK)
        e = add_base_fields(t, req, &f);
    if (e == HTTPA_OK)
        e = httpa__ahl_hash(req, &f, HTTPA_X_CORE, t->suite, core);
    if (e == HTTPA_OK)
        e = start_request_body(t, o, rs, core);
    if (e == HTTPA_OK)
        e = seal_and_ticket(t, req, o, &og, core, &f);
    httpa_fields_free(&f);
    size_t eng = req->nheaders;
    bool zero = !(o != NULL && o->has_body) && og.had_length;
    if (e == HTTPA_OK)
        e = httpa__add_tail(req, o, rs, zero);
    if (e == HTTPA_OK)
        e = httpa__arrange(req, app, eng);
    httpa__outgoing_free(&og);
    return e;
}

httpa_err httpa_client_protect(httpa_client_base *b, httpa_msg *req, const httpa_seal_opts *opts,
                               httpa_client_txn **out)
{
    if (out != NULL)
        *out = NULL;
    if (b == NULL || req == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    bool atsp = httpa_msg_method_is(req, "ATTEST");
    httpa_err e = check_request(req, opts, atsp);
    httpa_client_txn *t = NULL;
    if (e == HTTPA_OK)
        e = txn_new(b, atsp, opts, &t);
    if (e == HTTPA_OK)
        e = protect_request(t, req, opts);
    if (e != HTTPA_OK) {
        httpa_client_txn_free(t);
        return e;
    }
    *out = t;
    return HTTPA_OK;
}

httpa_err httpa_client_txn_seal(httpa_client_txn *t, httpa_span plain, bool fin, httpa_buf *wire)
{
    if (t == NULL || wire == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (!t->req_on)
        return plain.len == 0 ? HTTPA_OK : HTTPA_ERR_INVALID_ARG;
    return httpa_stream_seal(&t->req_body, plain, fin, wire);
}

/* ---- the response (12.2) ---- */

/* A response without a binder: its Attest-Error code, else bad_ticket. It
 * is unauthenticated whatever it says (13.3). */
static httpa_err unauthenticated(const httpa_msg *resp)
{
    const httpa_header *h = httpa_msg_find(resp, "attest-error", 12);
    if (h == NULL)
        return HTTPA_ERR_BAD_TICKET;
    const char *v = h->value;
    size_t n = h->value_len;
    while (n != 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n != 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    httpa_err e = httpa_err_from_token(v, n);
    return e == HTTPA_OK ? HTTPA_ERR_INTERNAL : e;
}

/* Step 3: the binder's seq is the request's and its MAC verifies. */
static httpa_err verify_binder(const httpa_client_txn *t, const httpa_msg *resp,
                               const httpa_fields *f)
{
    const httpa_suite *s = t->suite;
    const httpa_sf_bare *b = httpa_fields_item(f, HTTPA_F_BINDER);
    uint64_t seq;
    const uint8_t *got;
    if (b == NULL || b->type != HTTPA_SF_BINARY ||
        httpa_auth_split(s, HTTPA_SPAN(b->bytes, b->len), &seq, &got) != HTTPA_OK ||
        seq != t->seq)
        return HTTPA_ERR_BAD_TICKET;
    uint8_t full[HTTPA_MAX_HASH], mac[HTTPA_MAX_HASH];
    httpa_err e = httpa__ahl_hash(resp, f, HTTPA_X_FULL, s, full);
    if (e == HTTPA_OK)
        e = httpa_binder_mac(s, t->s_ap.mac_key, t->seq, t->ticket_mac, full, mac);
    if (e == HTTPA_OK && !httpa_ct_equal(mac, got, s->hlen))
        e = HTTPA_ERR_BAD_TICKET;
    return e;
}

/* Step 4: Cargo, secrets (AtSP only), sealed fields, body presence. */
static httpa_err open_items(httpa_client_txn *t, const httpa_msg *resp, const httpa_fields *f)
{
    const httpa_limits *lim = &t->base->limits;
    uint8_t core[HTTPA_MAX_HASH];
    /* A response that failed here before may be offered again. */
    httpa_cargo_clear(&t->cargo);
    httpa_buf_reset(&t->cargo_plain);
    httpa__secrets_free(&t->secrets);
    httpa_err e = httpa__ahl_hash(resp, f, HTTPA_X_CORE, t->suite, core);
    if (e == HTTPA_OK)
        e = httpa__cargo_open(&t->s_ap, t->seq, core, f, lim, &t->cargo_plain, &t->cargo);
    if (e == HTTPA_OK && (t->cargo.flags & HTTPA_CARGO_TARGET))
        e = HTTPA_ERR_BAD_REQUEST;
    if (e == HTTPA_OK && !t->atsp && httpa_fields_has(f, HTTPA_F_SECRETS))
        e = HTTPA_ERR_BAD_REQUEST;
    if (e == HTTPA_OK)
        e = httpa__secrets_open(&t->s_ap, t->seq, core, f, lim, &t->secrets);
    if (e == HTTPA_OK)
        e = httpa__check_sealed(resp, &t->cargo);
    if (e == HTTPA_OK)
        e = httpa__check_no_content(resp, &t->cargo);
    if (e == HTTPA_OK)
        e = httpa__body_start(&t->resp_body, &t->resp_on, &t->s_ap, t->seq, core, &t->cargo,
                              lim->max_body);
    return e;
}

httpa_err httpa_client_txn_response(httpa_client_txn *t, httpa_msg *resp)
{
    if (t == NULL || resp == NULL || !resp->is_response)
        return HTTPA_ERR_INVALID_ARG;
    if (t->verified)
        return HTTPA_ERR_BAD_STATE;
    if (resp->status >= 100 && resp->status < 200 && resp->status != 101)
        return HTTPA_OK; /* interim: ignored, the final response is still due */
    if (resp->status == 101 || httpa_msg_find(resp, "attest-binder", 13) == NULL)
        return unauthenticated(resp);
    httpa_fields f;
    httpa_err e = httpa_fields_parse(resp, &t->base->limits, &f);
    if (e != HTTPA_OK)
        e = HTTPA_ERR_BAD_TICKET; /* cannot be authenticated */
    if (e == HTTPA_OK)
        e = verify_binder(t, resp, &f);
    if (e == HTTPA_OK)
        e = open_items(t, resp, &f);
    httpa_fields_free(&f);
    if (e == HTTPA_OK)
        e = httpa__restore(resp, &t->cargo, false);
    if (e != HTTPA_OK)
        return e;
    t->verified = true;
    if (t->terminate) /* closed once the terminating response verified (15.2) */
        atomic_store(&t->base->closed, true);
    return HTTPA_OK;
}

httpa_err httpa_client_txn_body(httpa_client_txn *t, httpa_span wire, bool fin, httpa_buf *plain)
{
    if (t == NULL || plain == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (!t->verified)
        return HTTPA_ERR_BAD_STATE;
    return httpa__body_feed(&t->resp_body, t->resp_on, wire, fin, plain);
}

size_t httpa_client_txn_secrets(const httpa_client_txn *t, const char *const **names,
                                const httpa_span **values)
{
    if (t == NULL || names == NULL || values == NULL || !t->verified)
        return 0;
    *names = (const char *const *)t->secrets.names;
    *values = t->secrets.spans;
    return t->secrets.n;
}

void httpa_client_txn_free(httpa_client_txn *t)
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
    httpa_client_base *b = t->base;
    httpa_wipe(t, sizeof(*t));
    free(t);
    httpa_client_base_release(b);
}
