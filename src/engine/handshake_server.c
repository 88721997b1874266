/* The server side of the Attest Handshake (profile 6.2.2, 6.2.3), the
 * Preflight (6.1), request classification (3.3), attested handshake keys
 * (7.2), fresh evidence (7.3) and mutual attestation (14). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "engine/session.h"

#define ATTEST_METHOD "ATTEST"
#define DEFAULT_EXPIRES 3600
#define DEFAULT_METHODS "GET, POST"
#define RETRY_AFTER "1"
#define MAX_SECRETS 254
#define HINT_MAX 160
#define CLIENT_RD_LABEL "httpa2 client quote"   /* followed by 0x00 */
#define SERVER_RD_LABEL "httpa2 server quote"
#define AK_RD_LABEL "httpa2 attested key"
#define SIGNATURE_LABEL "httpa2 server signature"

static const char *const default_suites[] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", NULL};
static const char *const default_groups[] = {"x25519", "secp256r1", NULL};
static const httpa_sig_alg sig_preference[] = {HTTPA_ED25519, HTTPA_ECDSA_P256_SHA256};

/* State of one AtHS, from the parsed request to the finished response. */
typedef struct aths {
    httpa_server *s;
    const httpa_msg *req;
    uint64_t body_len;
    int64_t now;
    int64_t date;
    httpa_fields f;
    /* negotiated */
    const httpa_suite *suite;
    httpa_group group;
    httpa_span client_share;
    bool transport;
    bool fresh;
    bool allow_untrusted;
    httpa_key_rec *key;              /* attested-key mode: one reference */
    bool client_attested;
    httpa_appraisal client_appraisal;
    char client_tee[16];             /* its tee token ("sim", "sgx", ...) */
    /* the error, when a step fails */
    int status;
    const char *detail;
    const char *hint_name;
    char hint[HINT_MAX];
    /* allocation (step 12); secrets are wiped in aths_clear */
    httpa_kex *kex;
    uint8_t share[HTTPA_SIG_MAX_PUB];
    uint8_t shared[32];
    uint8_t random[32];
    char base_id[HTTPA_BASE_ID_LEN + 1];
    httpa_msg out;
    httpa_fields out_f;              /* out's Attest-* fields, all own (fields.h) */
    httpa_buf scratch;               /* one field value at a time */
    httpa_buf quotes;                /* QV: the canonical Attest-Quotes value */
    uint8_t th_hs[HTTPA_MAX_HASH];
    uint8_t core_hash[HTTPA_MAX_HASH];
    httpa_hs_keys keys;              /* schedule, s_hs MAC key, c_ap and s_ap */
} aths;

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static bool token_member(const httpa_sf_member *m, const char *s)
{
    return !m->is_inner && m->item.bare.type == HTTPA_SF_TOKEN && httpa_sf_bare_is(&m->item.bare, s);
}

/* Does the List `v` contain the Token `s`? */
static bool list_has(const httpa_sf_value *v, const char *s)
{
    for (size_t i = 0; v != NULL && i < v->nmembers; i++)
        if (token_member(&v->members[i], s))
            return true;
    return false;
}

static const char *const *server_suites(const httpa_server *s)
{
    return s->cfg.suites != NULL ? s->cfg.suites : default_suites;
}

static const char *const *server_groups(const httpa_server *s)
{
    return s->cfg.groups != NULL ? s->cfg.groups : default_groups;
}

static const char *methods_of(const httpa_server *s)
{
    return s->cfg.methods != NULL ? s->cfg.methods : DEFAULT_METHODS;
}

/* Record the failure of a step; returns err. */
static httpa_err fail(aths *a, httpa_err err, const char *detail)
{
    a->detail = detail;
    a->status = httpa_err_status(err);
    return err;
}

/* internal with 503 and Retry-After (capacity, evidence unavailable). */
static httpa_err fail_busy(aths *a, const char *detail)
{
    fail(a, HTTPA_ERR_INTERNAL, detail);
    a->status = 503;
    return HTTPA_ERR_INTERNAL;
}

/* negotiation_failed with an unauthenticated hint field. */
static httpa_err fail_hint(aths *a, const char *name, const char *value, const char *detail)
{
    a->hint_name = name;
    snprintf(a->hint, sizeof(a->hint), "%s", value);
    return fail(a, HTTPA_ERR_NEGOTIATION_FAILED, detail);
}

/* Append "a, b, c" of a NULL-terminated token list. */
static void join_tokens(char *out, size_t cap, const char *const *list)
{
    out[0] = '\0';
    for (size_t i = 0; list[i] != NULL; i++) {
        if (i != 0)
            strncat(out, ", ", cap - strlen(out) - 1);
        strncat(out, list[i], cap - strlen(out) - 1);
    }
}

static httpa_err add_field(httpa_msg *m, const char *name, const httpa_buf *v)
{
    return httpa_msg_add(m, name, strlen(name), v->len ? (const char *)v->base : "", v->len);
}

/* ------------------------------------------------------------------ */
/* server object and attested keys                                      */

static httpa_err check_config(const httpa_server_config *c)
{
    if (c->expires > HTTPA_MAX_KEY_LIFETIME)
        return HTTPA_ERR_INVALID_ARG;
    if (c->attester != NULL && (c->attester->quote == NULL || c->attester->tee == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (c->client_verifier != NULL && c->client_verifier->appraise == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (c->suites != NULL) {
        if (c->suites[0] == NULL)
            return HTTPA_ERR_INVALID_ARG;
        for (size_t i = 0; c->suites[i] != NULL; i++)
            if (httpa_suite_find(c->suites[i], strlen(c->suites[i])) == NULL)
                return HTTPA_ERR_INVALID_ARG;
    }
    if (c->groups != NULL) {
        if (c->groups[0] == NULL)
            return HTTPA_ERR_INVALID_ARG;
        for (size_t i = 0; c->groups[i] != NULL; i++)
            if (httpa_group_find(c->groups[i], strlen(c->groups[i])) < 0)
                return HTTPA_ERR_INVALID_ARG;
    }
    return HTTPA_OK;
}

httpa_err httpa_server_new(const httpa_server_config *cfg, httpa_server **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (cfg == NULL || check_config(cfg) != HTTPA_OK)
        return HTTPA_ERR_INVALID_ARG;
    httpa_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HTTPA_ERR_NOMEM;
    s->cfg = *cfg;
    s->cfg.limits = httpa_limits_resolve(cfg->limits);
    if (s->cfg.expires == 0)
        s->cfg.expires = DEFAULT_EXPIRES;
    if (pthread_mutex_init(&s->keys_lock, NULL) != 0) {
        free(s);
        return HTTPA_ERR_INTERNAL;
    }
    httpa_err e = httpa_store_new(s->cfg.limits.max_bases, &s->store);
    if (e != HTTPA_OK) {
        pthread_mutex_destroy(&s->keys_lock);
        free(s);
        return e;
    }
    *out = s;
    return HTTPA_OK;
}

static void rec_release(httpa_key_rec *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    httpa_sign_key_free(r->key);
    httpa_buf_free(&r->quotes);
    httpa_wipe(r, sizeof(*r));
    free(r);
}

static void key_clear(httpa_server_key *k)
{
    rec_release(k->rec);
    for (size_t i = 0; i < k->nev; i++)
        httpa_buf_free(&k->ev[i].evidence);
    memset(k, 0, sizeof(*k));
}

void httpa_server_free(httpa_server *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nkeys; i++)
        key_clear(&s->keys[i]);
    httpa_store_free(s->store);
    pthread_mutex_destroy(&s->keys_lock);
    httpa_wipe(s, sizeof(*s));
    free(s);
}

size_t httpa_server_sweep(httpa_server *s, int64_t now)
{
    return s != NULL ? httpa_store_sweep(s->store, now) : 0;
}

size_t httpa_server_base_count(httpa_server *s)
{
    return s != NULL ? httpa_store_count(s->store) : 0;
}

static bool is_token_text(const char *t, size_t max)
{
    size_t n = t != NULL ? strlen(t) : 0;
    if (n == 0 || n >= max || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = t[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("!#$%&'*+-.^_`|~:/", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

static httpa_err check_key_args(httpa_sig_alg alg, httpa_span pub, int64_t not_after,
                                const httpa_key_evidence *ev, size_t nev)
{
    if (httpa_sig_token(alg) == NULL || pub.base == NULL || pub.len != httpa_sig_pub_len(alg))
        return HTTPA_ERR_INVALID_ARG;
    if (not_after <= 0 || ev == NULL || nev == 0 || nev > HTTPA_MAX_EVIDENCE)
        return HTTPA_ERR_INVALID_ARG;
    for (size_t i = 0; i < nev; i++) {
        if (!is_token_text(ev[i].tee, HTTPA_TEE_TOKEN_MAX) || ev[i].format == NULL ||
            (strcmp(ev[i].format, "raw") != 0 && strcmp(ev[i].format, "eat") != 0) ||
            ev[i].evidence.base == NULL || ev[i].evidence.len == 0)
            return HTTPA_ERR_INVALID_ARG;
    }
    return HTTPA_OK;
}

/* "(tee :evidence:);format=F" */
static httpa_err put_entry(httpa_buf *q, const char *tee, const char *format, httpa_span ev)
{
    httpa_err e = q->len != 0 ? httpa_buf_append_str(q, ", ") : HTTPA_OK;
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(q, '(');
    if (e == HTTPA_OK)
        e = httpa_sf_put_token(q, tee, strlen(tee));
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(q, ' ');
    if (e == HTTPA_OK)
        e = httpa_sf_put_binary(q, ev.base, ev.len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(q, ");format=");
    return e == HTTPA_OK ? httpa_sf_put_token(q, format, strlen(format)) : e;
}

/* ";alg=A;key=:K:;exp=N" */
static httpa_err put_key_params(httpa_buf *q, const httpa_server_key *k)
{
    const char *alg = httpa_sig_token(k->alg);
    httpa_err e = httpa_buf_append_str(q, ";alg=");
    if (e == HTTPA_OK)
        e = httpa_sf_put_token(q, alg, strlen(alg));
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(q, ";key=");
    if (e == HTTPA_OK)
        e = httpa_sf_put_binary(q, k->pub, k->pub_len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(q, ";exp=");
    return e == HTTPA_OK ? httpa_sf_put_integer(q, k->not_after) : e;
}

/* QV (one entry per evidence, each with the key's parameters) and its
 * hashes: what every AtHS with this key sends and signs. */
static httpa_err rec_quotes(httpa_key_rec *r, const httpa_server_key *k)
{
    static const httpa_hash_alg hashes[] = {HTTPA_SHA256, HTTPA_SHA384, HTTPA_SHA512};
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && i < k->nev; i++) {
        e = put_entry(&r->quotes, k->ev[i].tee, k->ev[i].format,
                      httpa_buf_span(&k->ev[i].evidence));
        if (e == HTTPA_OK)
            e = put_key_params(&r->quotes, k);
    }
    for (size_t i = 0; e == HTTPA_OK && i < sizeof(hashes) / sizeof(hashes[0]); i++)
        e = httpa_hash(hashes[i], httpa_buf_span(&r->quotes), r->quotes_hash[hashes[i]]);
    return e;
}

/* k's signing record, owning `key` (also on failure). */
static httpa_err rec_new(httpa_server_key *k, httpa_sign_key *key)
{
    httpa_key_rec *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        httpa_sign_key_free(key);
        return HTTPA_ERR_NOMEM;
    }
    atomic_init(&r->refs, 1);
    r->key = key;
    httpa_buf_init(&r->quotes, SIZE_MAX);
    k->rec = r;
    return rec_quotes(r, k);
}

static httpa_err key_fill(httpa_server_key *k, httpa_sig_alg alg, httpa_span pub,
                          int64_t not_after, const httpa_key_evidence *ev, size_t nev)
{
    k->alg = alg;
    memcpy(k->pub, pub.base, pub.len);
    k->pub_len = pub.len;
    k->not_after = not_after;
    for (size_t i = 0; i < nev; i++) {
        strcpy(k->ev[i].tee, ev[i].tee);
        strcpy(k->ev[i].format, ev[i].format);
        httpa_buf_init(&k->ev[i].evidence, ev[i].evidence.len);
        k->nev = i + 1;
        httpa_err e = httpa_buf_append(&k->ev[i].evidence, ev[i].evidence.base, ev[i].evidence.len);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

/* The slot a new key goes to: a free one, else the key that expires first. */
static size_t key_slot(const httpa_server *s)
{
    if (s->nkeys < HTTPA_MAX_KEYS)
        return s->nkeys;
    size_t best = 0;
    for (size_t i = 1; i < s->nkeys; i++)
        if (s->keys[i].not_after < s->keys[best].not_after)
            best = i;
    return best;
}

httpa_err httpa_server_add_key(httpa_server *s, httpa_sig_alg alg, httpa_sign_key *key,
                               httpa_span pub, int64_t not_after, const httpa_key_evidence *ev,
                               size_t nev)
{
    httpa_server_key k, old;
    memset(&k, 0, sizeof(k));
    memset(&old, 0, sizeof(old));
    httpa_err e = s == NULL || key == NULL ? HTTPA_ERR_INVALID_ARG
                                           : check_key_args(alg, pub, not_after, ev, nev);
    if (e == HTTPA_OK)
        e = key_fill(&k, alg, pub, not_after, ev, nev);
    if (e == HTTPA_OK)
        e = rec_new(&k, key); /* owns key from here on, also on failure */
    else
        httpa_sign_key_free(key);
    if (e != HTTPA_OK) {
        key_clear(&k);
        return e;
    }
    pthread_mutex_lock(&s->keys_lock);
    size_t slot = key_slot(s);
    if (slot < s->nkeys)
        old = s->keys[slot];
    s->keys[slot] = k;
    if (slot == s->nkeys)
        s->nkeys++;
    pthread_mutex_unlock(&s->keys_lock);
    /* Handshakes that picked the old key keep its record until they end. */
    key_clear(&old);
    return HTTPA_OK;
}

httpa_err httpa_attested_key_report_data(httpa_sig_alg alg, httpa_span pub, int64_t not_after,
                                         uint8_t out[HTTPA_REPORT_DATA_LEN])
{
    const char *tok = httpa_sig_token(alg);
    if (tok == NULL || out == NULL || pub.base == NULL || pub.len != httpa_sig_pub_len(alg) ||
        not_after < 0)
        return HTTPA_ERR_INVALID_ARG;
    uint8_t alg_len[2], pub_len[2], exp[8];
    httpa_put_u16(alg_len, (uint16_t)strlen(tok));
    httpa_put_u16(pub_len, (uint16_t)pub.len);
    httpa_put_u64(exp, (uint64_t)not_after);
    const httpa_span parts[] = {
        HTTPA_SPAN(AK_RD_LABEL, sizeof(AK_RD_LABEL)), /* with the 0x00 */
        HTTPA_SPAN(alg_len, 2), HTTPA_SPAN(tok, strlen(tok)),
        HTTPA_SPAN(pub_len, 2), pub,
        HTTPA_SPAN(exp, 8),
    };
    return httpa_hashv(HTTPA_SHA512, parts, sizeof(parts) / sizeof(parts[0]), out);
}

/* ------------------------------------------------------------------ */
/* classification (3.3) and preflight (6.1)                             */

static bool has_field(const httpa_msg *m, const char *name)
{
    return httpa_msg_find(m, name, strlen(name)) != NULL;
}

httpa_txn_kind httpa_server_classify(const httpa_msg *req)
{
    if (req == NULL || req->is_response || req->method == NULL)
        return HTTPA_TXN_INVALID;
    if (httpa_msg_method_is(req, "OPTIONS") && has_field(req, "access-control-request-method"))
        return HTTPA_TXN_PREFLIGHT;
    bool base = has_field(req, "attest-base-id");
    bool ticket = has_field(req, "attest-ticket");
    if (httpa_msg_method_is(req, ATTEST_METHOD))
        return base ? HTTPA_TXN_ATSP : HTTPA_TXN_ATHS;
    if (httpa_msg_method_is(req, "CONNECT"))
        return base || ticket ? HTTPA_TXN_INVALID : HTTPA_TXN_PLAIN;
    if (base)
        return ticket ? HTTPA_TXN_TRT : HTTPA_TXN_UTR;
    return ticket ? HTTPA_TXN_INVALID : HTTPA_TXN_PLAIN;
}

/* Every request field name a browser may need to send (6.1). */
static const char *const cors_request_fields[] = {
    "attest-quotes", "attest-base-id", "attest-base-termination",
    "attest-cargo", "attest-secrets", "attest-ticket", NULL,
};

static bool is_tchar_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool csv_has(const httpa_buf *b, const char *name, size_t n)
{
    const char *p = (const char *)b->base, *end = p + b->len;
    while (p != NULL && p < end) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        const char *e = q != NULL ? q : end;
        if ((size_t)(e - p) == n && memcmp(p, name, n) == 0)
            return true;
        p = q != NULL ? q + 2 : NULL;
    }
    return false;
}

static httpa_err csv_add(httpa_buf *b, const char *name, size_t n)
{
    if (n == 0 || csv_has(b, name, n))
        return HTTPA_OK;
    httpa_err e = b->len != 0 ? httpa_buf_append_str(b, ", ") : HTTPA_OK;
    return e == HTTPA_OK ? httpa_buf_append(b, name, n) : e;
}

/* The requested names, lower-cased, in order, then the other request fields. */
static httpa_err allow_headers(const httpa_msg *req, httpa_buf *out)
{
    httpa_buf acrh;
    bool found;
    char name[256];
    httpa_buf_init(&acrh, 65536);
    httpa_err e = httpa_msg_combine(req, "access-control-request-headers", 30, &acrh, &found);
    for (size_t i = 0; e == HTTPA_OK && i <= acrh.len;) {
        size_t n = 0;
        for (; i < acrh.len && acrh.base[i] != ','; i++) {
            char c = (char)acrh.base[i];
            c = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
            if (c == ' ' || c == '\t')
                continue;
            if (!is_tchar_lower(c) || n + 1 >= sizeof(name)) {
                e = HTTPA_ERR_BAD_REQUEST;
                break;
            }
            name[n++] = c;
        }
        if (e == HTTPA_OK)
            e = csv_add(out, name, n);
        i++;
    }
    for (size_t i = 0; e == HTTPA_OK && cors_request_fields[i] != NULL; i++)
        e = csv_add(out, cors_request_fields[i], strlen(cors_request_fields[i]));
    httpa_buf_free(&acrh);
    return e;
}

static bool value_clean(const httpa_header *h)
{
    for (size_t i = 0; i < h->value_len; i++)
        if (h->value[i] == '\r' || h->value[i] == '\n' || h->value[i] == '\0')
            return false;
    return true;
}

static httpa_err preflight_allow(httpa_server *s, const httpa_msg *req, httpa_msg *resp)
{
    const httpa_header *origin = httpa_msg_find(req, "origin", 6);
    httpa_buf v;
    httpa_buf_init(&v, 65536);
    httpa_err e = httpa_buf_append_str(&v, "OPTIONS, ATTEST, ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&v, methods_of(s));
    if (e == HTTPA_OK)
        e = add_field(resp, "Allow", &v);
    if (e == HTTPA_OK && origin != NULL)
        e = value_clean(origin) ? httpa_msg_add(resp, "Access-Control-Allow-Origin", 27,
                                                origin->value, origin->value_len)
                                : HTTPA_ERR_BAD_REQUEST;
    httpa_buf_reset(&v);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&v, "ATTEST, ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&v, methods_of(s));
    if (e == HTTPA_OK)
        e = add_field(resp, "Access-Control-Allow-Methods", &v);
    httpa_buf_reset(&v);
    if (e == HTTPA_OK)
        e = allow_headers(req, &v);
    if (e == HTTPA_OK)
        e = add_field(resp, "Access-Control-Allow-Headers", &v);
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(resp, "Access-Control-Max-Age", "600");
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(resp, "Attest-Supported-Versions", HTTPA_VERSION_TOKEN);
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(resp, "Vary", "Origin");
    httpa_buf_free(&v);
    return e;
}

static httpa_err preflight_refuse(httpa_server *s, httpa_msg *resp, httpa_buf *body)
{
    httpa_buf v;
    httpa_buf_init(&v, 65536);
    httpa_err e = httpa_buf_append_str(&v, "OPTIONS, ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&v, methods_of(s));
    if (e == HTTPA_OK)
        e = add_field(resp, "Allow", &v);
    httpa_buf_free(&v);
    if (e == HTTPA_OK)
        e = httpa__problem(HTTPA_ERR_NEGOTIATION_FAILED, 405,
                           "ATTEST is not allowed on this resource", resp, body);
    return e;
}

httpa_err httpa_server_preflight(httpa_server *s, const httpa_msg *req, bool allowed,
                                 httpa_msg *resp, httpa_buf *body)
{
    if (s == NULL || req == NULL || resp == NULL || body == NULL ||
        httpa_server_classify(req) != HTTPA_TXN_PREFLIGHT)
        return HTTPA_ERR_INVALID_ARG;
    httpa_msg_free(resp);
    httpa_msg_init_response(resp, allowed ? 204 : 405);
    httpa_buf_reset(body);
    httpa_err e = allowed ? preflight_allow(s, req, resp) : preflight_refuse(s, resp, body);
    if (e != HTTPA_OK) {
        httpa_msg_free(resp);
        httpa_msg_init_response(resp, 0);
    }
    return e;
}

/* ------------------------------------------------------------------ */
/* AtHS step 1: parse and check the request                             */

static const httpa_fid required_fields[] = {
    HTTPA_F_VERSIONS, HTTPA_F_DATE, HTTPA_F_RANDOM,
    HTTPA_F_CIPHER_SUITES, HTTPA_F_SUPPORTED_GROUPS, HTTPA_F_KEY_SHARES,
};
static const httpa_fid forbidden_fields[] = {
    HTTPA_F_TICKET, HTTPA_F_BINDER, HTTPA_F_CARGO, HTTPA_F_SECRETS, HTTPA_F_SIGNATURE,
    HTTPA_F_BASE_ID,
};

static httpa_err check_presence(aths *a)
{
    for (size_t i = 0; i < sizeof(required_fields) / sizeof(required_fields[0]); i++)
        if (!httpa_fields_has(&a->f, required_fields[i]))
            return fail(a, HTTPA_ERR_BAD_REQUEST, "a required field is missing");
    for (size_t i = 0; i < sizeof(forbidden_fields) / sizeof(forbidden_fields[0]); i++)
        if (httpa_fields_has(&a->f, forbidden_fields[i]))
            return fail(a, HTTPA_ERR_BAD_REQUEST, "a field not allowed in an AtHS request is present");
    return HTTPA_OK;
}

/* Every share's group is offered; shares of groups we implement are valid. */
static httpa_err check_shares(aths *a)
{
    const httpa_sf_value *ks = a->f.v[HTTPA_F_KEY_SHARES];
    for (size_t i = 0; i < ks->nmembers; i++) {
        const httpa_sf_member *m = &ks->members[i];
        if (m->key == NULL || !list_has(a->f.v[HTTPA_F_SUPPORTED_GROUPS], m->key))
            return fail(a, HTTPA_ERR_BAD_REQUEST, "a key share for a group that is not offered");
        int g = httpa_group_find(m->key, strlen(m->key));
        if (g >= 0 && httpa_kex_check_share((httpa_group)g, HTTPA_SPAN(m->item.bare.bytes,
                                                                       m->item.bare.len)) != HTTPA_OK)
            return fail(a, HTTPA_ERR_BAD_REQUEST, "invalid key share");
    }
    return HTTPA_OK;
}

static httpa_err check_policies(aths *a)
{
    const httpa_sf_bare *bc = httpa_fields_item(&a->f, HTTPA_F_BASE_CREATION);
    if (bc != NULL && !httpa_sf_bare_is(bc, "new") && !httpa_sf_bare_is(bc, "reuse") && !httpa_sf_bare_is(bc, "shared"))
        return fail(a, HTTPA_ERR_BAD_REQUEST, "invalid Attest-Base-Creation");
    const httpa_sf_value *p = a->f.v[HTTPA_F_POLICIES];
    const httpa_sf_member *m = p != NULL ? httpa_sf_dict_find(p, "fresh") : NULL;
    a->fresh = m != NULL && !m->is_inner && m->item.bare.boolean;
    m = p != NULL ? httpa_sf_dict_find(p, "allow-untrusted") : NULL;
    a->allow_untrusted = m != NULL && !m->is_inner && m->item.bare.boolean;
    return HTTPA_OK;
}

static httpa_err step1_parse(aths *a)
{
    httpa_err e = httpa_fields_parse(a->req, &a->s->cfg.limits, &a->f);
    if (e == HTTPA_ERR_TOO_LARGE)
        return fail(a, e, "Attest-* fields exceed the server's limits");
    if (e == HTTPA_ERR_NOMEM)
        return fail(a, HTTPA_ERR_INTERNAL, "out of memory");
    if (e != HTTPA_OK)
        return fail(a, HTTPA_ERR_BAD_REQUEST, "malformed Attest-* field");
    if (!httpa_msg_method_is(a->req, ATTEST_METHOD))
        return fail(a, HTTPA_ERR_BAD_REQUEST, "an AtHS uses the ATTEST method");
    if ((e = check_presence(a)) != HTTPA_OK || (e = check_shares(a)) != HTTPA_OK ||
        (e = check_policies(a)) != HTTPA_OK)
        return e;
    if (a->body_len != 0)
        return fail(a, HTTPA_ERR_BAD_REQUEST, "an AtHS request has no content");
    a->date = httpa_fields_item(&a->f, HTTPA_F_DATE)->integer;
    return HTTPA_OK;
}

/* ------------------------------------------------------------------ */
/* AtHS steps 2-11                                                      */

static httpa_err step2_date(aths *a)
{
    int64_t d = a->date > a->now ? a->date - a->now : a->now - a->date;
    if (d > HTTPA_DATE_WINDOW)
        return fail(a, HTTPA_ERR_STALE_DATE, "Attest-Date is too far from the server's clock");
    return HTTPA_OK;
}

static int64_t random_until(const aths *a)
{
    return a->date + HTTPA_DATE_WINDOW + 1;
}

static httpa_err step3_replay(aths *a)
{
    const httpa_sf_bare *r = httpa_fields_item(&a->f, HTTPA_F_RANDOM);
    httpa_err e = httpa_store_random_check(a->s->store, r->bytes, random_until(a), a->now, false);
    if (e == HTTPA_ERR_REPLAY)
        return fail(a, e, "Attest-Random was seen before");
    return e == HTTPA_OK ? HTTPA_OK : fail(a, HTTPA_ERR_INTERNAL, "replay cache failure");
}

static httpa_err step4_version(aths *a)
{
    if (list_has(a->f.v[HTTPA_F_VERSIONS], HTTPA_VERSION_TOKEN))
        return HTTPA_OK;
    return fail_hint(a, "Attest-Supported-Versions", HTTPA_VERSION_TOKEN, "no common version");
}

static httpa_err step5_suite(aths *a)
{
    const char *const *mine = server_suites(a->s);
    for (size_t i = 0; mine[i] != NULL; i++) {
        if (list_has(a->f.v[HTTPA_F_CIPHER_SUITES], mine[i])) {
            a->suite = httpa_suite_find(mine[i], strlen(mine[i]));
            return HTTPA_OK;
        }
    }
    char hint[HINT_MAX];
    join_tokens(hint, sizeof(hint), mine);
    return fail_hint(a, "Attest-Supported-Cipher-Suites", hint, "no common cipher suite");
}

static const httpa_sf_member *share_for(const aths *a, const char *group)
{
    return httpa_sf_dict_find(a->f.v[HTTPA_F_KEY_SHARES], group);
}

static httpa_err step6_group(aths *a)
{
    const char *const *mine = server_groups(a->s);
    const char *common = NULL;
    for (size_t i = 0; mine[i] != NULL; i++) {
        if (!list_has(a->f.v[HTTPA_F_SUPPORTED_GROUPS], mine[i]))
            continue;
        const httpa_sf_member *m = share_for(a, mine[i]);
        if (m != NULL) {
            a->group = (httpa_group)httpa_group_find(mine[i], strlen(mine[i]));
            a->client_share = HTTPA_SPAN(m->item.bare.bytes, m->item.bare.len);
            return HTTPA_OK;
        }
        if (common == NULL)
            common = mine[i];
    }
    if (common != NULL)
        return fail_hint(a, "Attest-Supported-Group", common, "no key share for a common group");
    char hint[HINT_MAX];
    join_tokens(hint, sizeof(hint), mine);
    return fail_hint(a, "Attest-Supported-Groups", hint, "no common group");
}

static httpa_err step7_transport(aths *a)
{
    const httpa_sf_value *t = a->f.v[HTTPA_F_TRANSPORT];
    a->transport = t != NULL;
    if (t != NULL && !list_has(t, "header"))
        return fail(a, HTTPA_ERR_NEGOTIATION_FAILED, "no common transport");
    return HTTPA_OK;
}

/* The key of algorithm `alg` with the latest expiry, at least 300 s away;
 * the handshake takes a reference. Under keys_lock. */
static bool pick_key(aths *a, httpa_sig_alg alg)
{
    const httpa_server_key *best = NULL;
    for (size_t i = 0; i < a->s->nkeys; i++) {
        const httpa_server_key *k = &a->s->keys[i];
        if (k->alg == alg && k->not_after - HTTPA_KEY_MARGIN >= a->now &&
            (best == NULL || k->not_after > best->not_after))
            best = k;
    }
    if (best == NULL)
        return false;
    atomic_fetch_add(&best->rec->refs, 1);
    a->key = best->rec;
    return true;
}

static bool client_accepts(const aths *a, httpa_sig_alg alg)
{
    const httpa_sf_value *sigs = a->f.v[HTTPA_F_SIGNATURES];
    if (sigs == NULL)
        return alg == HTTPA_ED25519;
    return list_has(sigs, httpa_sig_token(alg));
}

static httpa_err step8_mode(aths *a)
{
    if (a->fresh)
        return a->s->cfg.attester != NULL
                   ? HTTPA_OK
                   : fail(a, HTTPA_ERR_POLICY_VIOLATION, "fresh mode is not available");
    bool found = false;
    pthread_mutex_lock(&a->s->keys_lock);
    for (size_t i = 0; !found && i < sizeof(sig_preference) / sizeof(sig_preference[0]); i++)
        found = client_accepts(a, sig_preference[i]) && pick_key(a, sig_preference[i]);
    pthread_mutex_unlock(&a->s->keys_lock);
    if (found)
        return HTTPA_OK;
    if (a->s->cfg.attester != NULL) {
        a->fresh = true; /* a client that did not require fresh mode accepts either */
        return HTTPA_OK;
    }
    return fail_busy(a, "no attested handshake key is available");
}

/* The report_data a client quote must bind (14): SHA-512(label 0 || TH_req). */
static httpa_err client_report_data(aths *a, uint8_t rd[HTTPA_REPORT_DATA_LEN])
{
    httpa_buf core;
    uint8_t th_req[32];
    httpa_buf_init(&core, SIZE_MAX);
    httpa_err e = httpa_ahl_build(a->req, &a->f, HTTPA_X_CORE, &core);
    if (e == HTTPA_OK)
        e = httpa_hash(HTTPA_SHA256, httpa_buf_span(&core), th_req);
    httpa_buf_free(&core);
    if (e != HTTPA_OK)
        return e;
    const httpa_span parts[] = {HTTPA_SPAN(CLIENT_RD_LABEL, sizeof(CLIENT_RD_LABEL)),
                                HTTPA_SPAN(th_req, sizeof(th_req))};
    return httpa_hashv(HTTPA_SHA512, parts, 2, rd);
}

/* One client entry: OK (verified and bound), UNSUPPORTED (ignored) or bad_quote. */
static httpa_err appraise_client_entry(aths *a, const httpa_sf_member *m, const uint8_t *rd,
                                       httpa_appraisal *out)
{
    const httpa_sf_param *fmt = httpa_sf_param_find(m->params, m->nparams, "format");
    if (fmt == NULL || fmt->value.type != HTTPA_SF_TOKEN ||
        httpa_sf_param_find(m->params, m->nparams, "alg") != NULL ||
        httpa_sf_param_find(m->params, m->nparams, "key") != NULL ||
        httpa_sf_param_find(m->params, m->nparams, "exp") != NULL)
        return HTTPA_ERR_BAD_QUOTE;
    httpa_verifier *v = a->s->cfg.client_verifier;
    httpa_span ev = HTTPA_SPAN(m->inner[1].bare.bytes, m->inner[1].bare.len);
    httpa_err e = v->appraise(v, (const char *)m->inner[0].bare.bytes,
                              (const char *)fmt->value.bytes, ev, a->now, out);
    /* 7.4, applied to the client's evidence: an entry the verifier cannot
     * handle is ignored, except `sim`, which only an explicit configuration
     * (a verifier that accepts it) lets through */
    if (e == HTTPA_ERR_UNSUPPORTED)
        return httpa_sf_bare_is(&m->inner[0].bare, "sim") ? HTTPA_ERR_BAD_QUOTE : e;
    if (e != HTTPA_OK || !httpa_ct_equal(out->report_data, rd, HTTPA_REPORT_DATA_LEN))
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

static httpa_err appraise_client(aths *a)
{
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    if (client_report_data(a, rd) != HTTPA_OK)
        return fail(a, HTTPA_ERR_INTERNAL, "transcript failure");
    const httpa_sf_value *q = a->f.v[HTTPA_F_QUOTES];
    size_t verified = 0;
    for (size_t i = 0; i < q->nmembers; i++) {
        httpa_appraisal ap;
        httpa_err e = appraise_client_entry(a, &q->members[i], rd, &ap);
        if (e == HTTPA_ERR_UNSUPPORTED)
            continue;
        if (e != HTTPA_OK)
            return fail(a, HTTPA_ERR_BAD_QUOTE, "client evidence rejected");
        if (verified++ == 0) {
            a->client_appraisal = ap;
            snprintf(a->client_tee, sizeof(a->client_tee), "%s",
                     (const char *)q->members[i].inner[0].bare.bytes);
        }
    }
    if (verified == 0)
        return fail(a, HTTPA_ERR_BAD_QUOTE, "no client evidence could be verified");
    a->client_attested = true;
    return HTTPA_OK;
}

static httpa_err step9_mutual(aths *a)
{
    bool quotes = httpa_fields_has(&a->f, HTTPA_F_QUOTES);
    if (quotes && a->s->cfg.client_verifier != NULL) {
        httpa_err e = appraise_client(a);
        if (e != HTTPA_OK)
            return e;
    }
    if (a->s->cfg.require_client_attestation && !a->client_attested)
        return fail(a, HTTPA_ERR_POLICY_VIOLATION, "client attestation is required");
    return HTTPA_OK;
}

/* This server is one TEE instance that holds many AtBs at once, so it
 * provides `shared` isolation only; listed AtBs it holds or held are here. */
static httpa_err step10_policies(aths *a)
{
    const httpa_sf_bare *bc = httpa_fields_item(&a->f, HTTPA_F_BASE_CREATION);
    if (bc != NULL && !httpa_sf_bare_is(bc, "shared"))
        return fail(a, HTTPA_ERR_POLICY_VIOLATION, "the requested AtB isolation is not available");
    const httpa_sf_value *bl = a->f.v[HTTPA_F_BLOCKLIST];
    for (size_t i = 0; bl != NULL && i < bl->nmembers; i++) {
        const httpa_sf_bare *id = &bl->members[i].item.bare;
        httpa_base *b = NULL;
        httpa_err e = httpa_store_get(a->s->store, (const char *)id->bytes, id->len, a->now, &b);
        if (b != NULL)
            httpa_store_put(a->s->store, b);
        if (e != HTTPA_ERR_UNKNOWN_BASE)
            return fail(a, HTTPA_ERR_POLICY_VIOLATION, "a blocklisted AtB is on this instance");
    }
    return HTTPA_OK;
}

static httpa_err step11_capacity(aths *a)
{
    size_t max = a->s->cfg.limits.max_bases;
    if (httpa_store_count(a->s->store) >= max) {
        httpa_store_sweep(a->s->store, a->now);
        if (httpa_store_count(a->s->store) >= max)
            return fail_busy(a, "no capacity for a new Attest Base");
    }
    return HTTPA_OK;
}

/* ------------------------------------------------------------------ */
/* AtHS step 12: allocate the AtB                                        */

static void format_base_id(const uint8_t u[16], char out[HTTPA_BASE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

/* Randomness in a fixed order: private key, Attest-Random, Base-ID. From
 * the CSPRNG in one draw: each RAND_bytes call costs more (locks, fork
 * check) than the octets; an injected source sees the three draws. */
static httpa_err draw(aths *a, uint8_t priv[32], uint8_t uuid[16])
{
    httpa_rng *rng = a->s->cfg.rng;
    if (rng == NULL || rng->fill == NULL) {
        uint8_t all[32 + 32 + 16] = {0};
        httpa_err e = httpa_random(all, sizeof(all));
        memcpy(priv, all, 32);
        memcpy(a->random, all + 32, 32);
        memcpy(uuid, all + 64, 16);
        httpa_wipe(all, sizeof(all));
        return e;
    }
    httpa_err e = httpa__rng(rng, priv, 32);
    if (e == HTTPA_OK)
        e = httpa__rng(rng, a->random, sizeof(a->random));
    return e == HTTPA_OK ? httpa__rng(rng, uuid, 16) : e;
}

static httpa_err generate(aths *a)
{
    uint8_t priv[32], uuid[16];
    httpa_err e = draw(a, priv, uuid);
    if (e == HTTPA_OK)
        e = httpa_kex_new(a->group, priv, sizeof(priv), a->share, &a->kex);
    httpa_wipe(priv, sizeof(priv));
    if (e != HTTPA_OK)
        return fail(a, HTTPA_ERR_INTERNAL, "key generation failed");
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* variant 10 */
    if (a->s->cfg.use_route_tag)
        uuid[0] = a->s->cfg.route_tag; /* profile 15.4 */
    format_base_id(uuid, a->base_id);
    e = httpa_kex_derive(a->kex, a->client_share, a->shared);
    if (e == HTTPA_ERR_BAD_REQUEST)
        return fail(a, e, "the key share gives an invalid shared secret");
    return e == HTTPA_OK ? HTTPA_OK : fail(a, HTTPA_ERR_INTERNAL, "key exchange failed");
}

typedef httpa_err (*field_writer)(const aths *a, httpa_buf *v);

static httpa_err put_version(const aths *a, httpa_buf *v)
{
    (void)a;
    return httpa_sf_put_token(v, HTTPA_VERSION_TOKEN, strlen(HTTPA_VERSION_TOKEN));
}

static httpa_err put_suite(const aths *a, httpa_buf *v)
{
    return httpa_sf_put_token(v, a->suite->token, strlen(a->suite->token));
}

static httpa_err put_group(const aths *a, httpa_buf *v)
{
    const char *g = httpa_group_token(a->group);
    return httpa_sf_put_token(v, g, strlen(g));
}

static httpa_err put_share(const aths *a, httpa_buf *v)
{
    const char *g = httpa_group_token(a->group);
    httpa_err e = httpa_sf_put_key(v, g, strlen(g));
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(v, '=');
    return e == HTTPA_OK ? httpa_sf_put_binary(v, a->share, httpa_group_share_len(a->group)) : e;
}

static httpa_err put_random(const aths *a, httpa_buf *v)
{
    return httpa_sf_put_binary(v, a->random, sizeof(a->random));
}

static httpa_err put_base_id(const aths *a, httpa_buf *v)
{
    return httpa_sf_put_string(v, a->base_id, HTTPA_BASE_ID_LEN);
}

static httpa_err put_expires(const aths *a, httpa_buf *v)
{
    return httpa_sf_put_integer(v, a->s->cfg.expires);
}

static httpa_err put_transport(const aths *a, httpa_buf *v)
{
    (void)a;
    return httpa_sf_put_token(v, "header", 6);
}

/* Add an Attest-* line the engine serialized to the response, and record
 * it for the AHLs: the response has no other Attest-* lines, so its AHLs
 * need no parse of what was just serialized (fields.h, own fields). */
static httpa_err add_own(aths *a, httpa_fid id, const char *name, const httpa_buf *v)
{
    httpa_err e = add_field(&a->out, name, v);
    return e == HTTPA_OK ? httpa_fields_put_own(&a->out_f, id, (const char *)v->base, v->len) : e;
}

static httpa_err write_field(aths *a, httpa_fid id, const char *name, field_writer w)
{
    httpa_buf_reset(&a->scratch);
    httpa_err e = w(a, &a->scratch);
    return e == HTTPA_OK ? add_own(a, id, name, &a->scratch) : e;
}

/* The core response fields, in the order of 6.2.3. */
static httpa_err build_core(aths *a)
{
    static const struct {
        httpa_fid id;
        const char *name;
        field_writer w;
    } core[] = {
        {HTTPA_F_VERSION, "Attest-Version", put_version},
        {HTTPA_F_CIPHER_SUITE, "Attest-Cipher-Suite", put_suite},
        {HTTPA_F_SUPPORTED_GROUP, "Attest-Supported-Group", put_group},
        {HTTPA_F_KEY_SHARE, "Attest-Key-Share", put_share},
        {HTTPA_F_RANDOM, "Attest-Random", put_random},
        {HTTPA_F_BASE_ID, "Attest-Base-ID", put_base_id},
        {HTTPA_F_EXPIRES, "Attest-Expires", put_expires},
    };
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && i < sizeof(core) / sizeof(core[0]); i++)
        e = write_field(a, core[i].id, core[i].name, core[i].w);
    if (e == HTTPA_OK && a->transport)
        e = write_field(a, HTTPA_F_TRANSPORT, "Attest-Transport", put_transport);
    return e;
}

/* TH_hs = Hash(u32(len A_full) || A_full || u32(len B_core) || B_core). */
static httpa_err transcript(aths *a)
{
    httpa_buf A, B;
    uint8_t la[4], lb[4];
    httpa_buf_init(&A, SIZE_MAX);
    httpa_buf_init(&B, SIZE_MAX);
    httpa_err e = httpa_ahl_build(a->req, &a->f, HTTPA_X_FULL, &A);
    if (e == HTTPA_OK)
        e = httpa_ahl_build(&a->out, &a->out_f, HTTPA_X_CORE, &B);
    if (e == HTTPA_OK && (A.len > UINT32_MAX || B.len > UINT32_MAX))
        e = HTTPA_ERR_TOO_LARGE;
    if (e == HTTPA_OK) {
        httpa_put_u32(la, (uint32_t)A.len);
        httpa_put_u32(lb, (uint32_t)B.len);
        const httpa_span parts[] = {HTTPA_SPAN(la, 4), httpa_buf_span(&A), HTTPA_SPAN(lb, 4),
                                    httpa_buf_span(&B)};
        e = httpa_hashv(a->suite->hash, parts, 4, a->th_hs);
    }
    if (e == HTTPA_OK)
        e = httpa_hash(a->suite->hash, httpa_buf_span(&B), a->core_hash);
    httpa_buf_free(&A);
    httpa_buf_free(&B);
    return e;
}

/* Sign("httpa2 server signature" 0 || TH_hs || Hash(QV)). */
static httpa_err sign_handshake(aths *a, const httpa_key_rec *k, uint8_t sig[HTTPA_SIG_LEN])
{
    uint8_t msg[sizeof(SIGNATURE_LABEL) + 2 * HTTPA_MAX_HASH];
    size_t hl = a->suite->hlen, n = sizeof(SIGNATURE_LABEL);
    memcpy(msg, SIGNATURE_LABEL, n); /* with the 0x00 */
    memcpy(msg + n, a->th_hs, hl);
    memcpy(msg + n + hl, k->quotes_hash[a->suite->hash], hl);
    return httpa_sign(k->key, HTTPA_SPAN(msg, n + 2 * hl), sig);
}

/* QV as built when the key was added, and the signature; no lock: the
 * record is immutable and this handshake holds a reference. */
static httpa_err attested_key_quotes(aths *a, uint8_t sig[HTTPA_SIG_LEN])
{
    const httpa_key_rec *k = a->key;
    httpa_err e = httpa_buf_append(&a->quotes, k->quotes.base, k->quotes.len);
    return e == HTTPA_OK ? sign_handshake(a, k, sig) : e;
}

static httpa_err fresh_quotes(aths *a)
{
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    httpa_buf ev;
    const httpa_span parts[] = {HTTPA_SPAN(SERVER_RD_LABEL, sizeof(SERVER_RD_LABEL)),
                                HTTPA_SPAN(a->th_hs, a->suite->hlen)};
    httpa_err e = httpa_hashv(HTTPA_SHA512, parts, 2, rd);
    httpa_buf_init(&ev, a->s->cfg.limits.max_field_value);
    httpa_attester *at = a->s->cfg.attester;
    if (e == HTTPA_OK)
        e = at->quote(at, rd, &ev);
    if (e == HTTPA_OK)
        e = ev.len != 0 ? put_entry(&a->quotes, at->tee, "raw", httpa_buf_span(&ev))
                        : HTTPA_ERR_INTERNAL;
    httpa_buf_free(&ev);
    return e;
}

/* Attest-Quotes, and Attest-Signature in attested-key mode (7.2, 7.3). */
static httpa_err authenticate(aths *a)
{
    uint8_t sig[HTTPA_SIG_LEN];
    httpa_err e = a->fresh ? fresh_quotes(a) : attested_key_quotes(a, sig);
    if (e != HTTPA_OK)
        return a->fresh ? fail_busy(a, "evidence is not available") : e;
    e = add_own(a, HTTPA_F_QUOTES, "Attest-Quotes", &a->quotes);
    if (e == HTTPA_OK && !a->fresh) {
        httpa_buf_reset(&a->scratch);
        e = httpa_sf_put_binary(&a->scratch, sig, sizeof(sig));
        if (e == HTTPA_OK)
            e = add_own(a, HTTPA_F_SIGNATURE, "Attest-Signature", &a->scratch);
    }
    return e;
}

static httpa_err derive_keys(aths *a)
{
    httpa_err e = httpa_hs_keys_derive(&a->keys, a->suite, a->shared, a->th_hs);
    httpa_wipe(a->shared, sizeof(a->shared));
    return e;
}

/* "name=:ct:" for each secret i, sealed as item 2 + i with s_hs at seq 0. */
static httpa_err seal_secrets(aths *a, httpa_traffic *s_hs, const char *const *names,
                              const httpa_span *values, size_t n, httpa_buf *v)
{
    httpa_buf ct;
    httpa_buf_init(&ct, a->s->cfg.limits.max_secret + HTTPA_TAG_LEN);
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && i < n; i++) {
        httpa_buf_reset(&ct);
        if (names[i] == NULL || values[i].len == 0 || values[i].len > a->s->cfg.limits.max_secret)
            e = HTTPA_ERR_INVALID_ARG;
        for (size_t j = 0; e == HTTPA_OK && j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                e = HTTPA_ERR_INVALID_ARG;
        if (e == HTTPA_OK)
            e = httpa_item_seal(s_hs, 0, (uint8_t)(HTTPA_ITEM_SECRET0 + i), a->core_hash,
                                values[i], &ct);
        if (e == HTTPA_OK && i != 0)
            e = httpa_buf_append_str(v, ", ");
        if (e == HTTPA_OK)
            e = httpa_sf_put_key(v, names[i], strlen(names[i]));
        if (e == HTTPA_OK)
            e = httpa_buf_append_u8(v, '=');
        if (e == HTTPA_OK)
            e = httpa_sf_put_binary(v, ct.base, ct.len);
    }
    httpa_buf_free(&ct);
    return e;
}

/* Optional AtHS-response secrets from the application (6.2.3). */
static httpa_err response_secrets(aths *a)
{
    const char *const *names = NULL;
    const httpa_span *values = NULL;
    size_t n = 0;
    if (a->s->cfg.aths_secrets == NULL)
        return HTTPA_OK;
    httpa_err e = a->s->cfg.aths_secrets(a->s->cfg.aths_secrets_arg,
                                         a->client_attested ? &a->client_appraisal : NULL,
                                         &names, &values, &n);
    if (e != HTTPA_OK || n == 0)
        return e;
    if (n > MAX_SECRETS || names == NULL || values == NULL)
        return HTTPA_ERR_INVALID_ARG;
    /* s_hs AEAD keys only now: most AtHS responses carry no secrets. */
    httpa_traffic s_hs;
    httpa_buf v;
    httpa_buf_init(&v, SIZE_MAX);
    e = httpa_traffic_init(&s_hs, a->suite, a->keys.ks.s_hs);
    if (e == HTTPA_OK)
        e = seal_secrets(a, &s_hs, names, values, n, &v);
    if (e == HTTPA_OK)
        e = add_own(a, HTTPA_F_SECRETS, "Attest-Secrets", &v);
    httpa_traffic_wipe(&s_hs);
    httpa_buf_free(&v);
    return e;
}

/* Attest-Binder over AHL(response, X_full), bound to TH_hs (section 10). */
static httpa_err bind(aths *a)
{
    httpa_buf full, v;
    uint8_t h[HTTPA_MAX_HASH], b[8 + HTTPA_MAX_HASH];
    httpa_buf_init(&full, SIZE_MAX);
    httpa_buf_init(&v, 256);
    httpa_err e = httpa_ahl_build(&a->out, &a->out_f, HTTPA_X_FULL, &full);
    if (e == HTTPA_OK)
        e = httpa_hash(a->suite->hash, httpa_buf_span(&full), h);
    httpa_put_u64(b, 0);
    if (e == HTTPA_OK)
        e = httpa_binder_mac(a->suite, a->keys.s_hs_mac, 0, a->th_hs, h, b + 8);
    if (e == HTTPA_OK)
        e = httpa_sf_put_binary(&v, b, 8 + a->suite->hlen);
    if (e == HTTPA_OK)
        e = add_field(&a->out, "Attest-Binder", &v);
    httpa_buf_free(&full);
    httpa_buf_free(&v);
    return e;
}

static httpa_err make_base(aths *a, httpa_base **out)
{
    httpa_base *b = NULL;
    httpa_err e = httpa_base_new(&b);
    if (e != HTTPA_OK)
        return e;
    memcpy(b->id, a->base_id, sizeof(b->id));
    b->suite = a->suite;
    b->c_ap = a->keys.c_ap; /* key material only: transactions key their own contexts */
    b->s_ap = a->keys.s_ap;
    memcpy(b->exporter_master, a->keys.ks.exporter_master, a->suite->hlen);
    b->expires_at = a->now + (int64_t)a->s->cfg.expires;
    b->allow_untrusted = a->allow_untrusted;
    b->client_attested = a->client_attested;
    if (a->client_attested) {
        b->client_appraisal = a->client_appraisal;
        memcpy(b->client_tee, a->client_tee, sizeof(b->client_tee));
    }
    *out = b;
    return HTTPA_OK;
}

/* Record Attest-Random (atomic check and insert), then publish the AtB. */
static httpa_err commit(aths *a)
{
    httpa_base *b = NULL;
    httpa_err e = make_base(a, &b);
    if (e != HTTPA_OK)
        return fail(a, HTTPA_ERR_INTERNAL, "Attest Base allocation failed");
    const httpa_sf_bare *r = httpa_fields_item(&a->f, HTTPA_F_RANDOM);
    e = httpa_store_random_check(a->s->store, r->bytes, random_until(a), a->now, true);
    if (e == HTTPA_OK)
        e = httpa_store_insert(a->s->store, b, a->now);
    httpa_store_put(a->s->store, b); /* the store holds its own reference */
    if (e == HTTPA_ERR_REPLAY)
        return fail(a, e, "Attest-Random was seen before");
    if (e == HTTPA_ERR_INTERNAL)
        return fail_busy(a, "no capacity for a new Attest Base");
    return e == HTTPA_OK ? HTTPA_OK : fail(a, HTTPA_ERR_INTERNAL, "Attest Base allocation failed");
}

static httpa_err step12_allocate(aths *a)
{
    httpa_err e = generate(a);
    if (e != HTTPA_OK)
        return e;
    httpa_msg_init_response(&a->out, 200);
    e = build_core(a);
    if (e == HTTPA_OK)
        e = transcript(a);
    if (e == HTTPA_OK)
        e = authenticate(a);
    if (e == HTTPA_OK)
        e = derive_keys(a);
    if (e == HTTPA_OK)
        e = response_secrets(a);
    if (e == HTTPA_OK)
        e = bind(a);
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(&a->out, "Cache-Control", "no-store");
    if (e != HTTPA_OK)
        return a->status != 0 ? e : fail(a, HTTPA_ERR_INTERNAL, "handshake failed");
    return commit(a);
}

/* ------------------------------------------------------------------ */
/* the AtHS                                                             */

static void aths_clear(aths *a)
{
    rec_release(a->key);
    a->key = NULL;
    httpa_fields_free(&a->f);
    httpa_fields_free(&a->out_f);
    httpa_buf_free(&a->scratch);
    httpa_kex_free(a->kex);
    a->kex = NULL;
    httpa_hs_keys_wipe(&a->keys);
    httpa_wipe(a->shared, sizeof(a->shared));
    httpa_msg_free(&a->out);
    httpa_buf_free(&a->quotes);
    httpa_wipe(&a->client_appraisal, sizeof(a->client_appraisal));
}

static httpa_err run_steps(aths *a)
{
    typedef httpa_err (*step)(aths *);
    static const step steps[] = {
        step1_parse,     step2_date,   step3_replay,      step4_version,
        step5_suite,     step6_group,  step7_transport,   step8_mode,
        step9_mutual,    step10_policies, step11_capacity, step12_allocate,
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        httpa_err e = steps[i](a);
        if (e != HTTPA_OK)
            return a->status != 0 ? e : fail(a, HTTPA_ERR_INTERNAL, "handshake failed");
    }
    return HTTPA_OK;
}

/* The unauthenticated error response of a failed step (13.3). */
static httpa_err error_response(aths *a, httpa_err err, httpa_msg *resp, httpa_buf *body)
{
    if (httpa_err_token(err) == NULL)
        err = HTTPA_ERR_INTERNAL;
    httpa_msg_init_response(resp, a->status);
    httpa_err e = HTTPA_OK;
    if (a->hint_name != NULL)
        e = httpa_msg_add_str(resp, a->hint_name, a->hint);
    if (e == HTTPA_OK && a->status == 503)
        e = httpa_msg_add_str(resp, "Retry-After", RETRY_AFTER);
    if (e == HTTPA_OK)
        e = httpa__problem(err, a->status, a->detail, resp, body);
    return e == HTTPA_OK ? err : e;
}

httpa_err httpa_server_handshake(httpa_server *s, const httpa_msg *req, uint64_t body_len,
                                 int64_t now, httpa_msg *resp, httpa_buf *body)
{
    if (s == NULL || req == NULL || resp == NULL || body == NULL)
        return HTTPA_ERR_INVALID_ARG;
    aths a;
    memset(&a, 0, sizeof(a));
    a.s = s;
    a.req = req;
    a.body_len = body_len;
    a.now = now;
    httpa_fields_init(&a.out_f, &s->cfg.limits);
    httpa_buf_init(&a.scratch, SIZE_MAX);
    httpa_buf_init(&a.quotes, SIZE_MAX);
    httpa_msg_free(resp);
    httpa_buf_reset(body);
    httpa_err e = run_steps(&a);
    if (e == HTTPA_OK) {
        *resp = a.out; /* handed over */
        httpa_msg_init_response(&a.out, 0);
    } else {
        e = error_response(&a, e, resp, body);
    }
    aths_clear(&a);
    return e;
}
