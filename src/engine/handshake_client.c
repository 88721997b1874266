/* The client side of the Attest Handshake (profile 6.2.1, 6.2.4), evidence
 * acceptance (7.2 to 7.4, 7.8) and the client's quote in mutual mode (14). */
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "engine/cargo.h"
#include "engine/session.h"

#define ATTEST_METHOD "ATTEST"
#define DEFAULT_TARGET "/.well-known/httpa"
#define MAX_SHARES 2
#define MAX_SECRETS 254
#define CLIENT_RD_LABEL "httpa2 client quote" /* followed by 0x00 */
#define SERVER_RD_LABEL "httpa2 server quote"
#define SIGNATURE_LABEL "httpa2 server signature"

static const char *const default_suites[] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", NULL};
static const char *const default_groups[] = {"x25519", "secp256r1", NULL};
static const char *const default_share_groups[] = {"x25519", NULL};
static const char *const default_sig_algs[] = {"ed25519", NULL};

struct httpa_client_hs {
    httpa_client_config cfg;      /* lists resolved to their defaults */
    httpa_limits limits;
    int64_t start;                /* when the request was built: Attest-Date */
    httpa_msg sent;               /* the request as sent */
    httpa_group share_group[MAX_SHARES];
    httpa_kex *kex[MAX_SHARES];
    size_t nshares;
    bool done;
};

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static bool bare_eq(const httpa_sf_bare *a, const httpa_sf_bare *b)
{
    return a->type == b->type && a->len == b->len && a->integer == b->integer &&
           (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

/* Index of `tok` (len octets) in a NULL-terminated list, or -1. */
static int list_index(const char *const *list, const char *tok, size_t len)
{
    for (int i = 0; list[i] != NULL; i++)
        if (strlen(list[i]) == len && memcmp(list[i], tok, len) == 0)
            return i;
    return -1;
}

static bool bare_in(const char *const *list, const httpa_sf_bare *b)
{
    return b != NULL && list_index(list, (const char *)b->bytes, b->len) >= 0;
}

static httpa_err add_field(httpa_msg *m, const char *name, const httpa_buf *v)
{
    return httpa_msg_add(m, name, strlen(name), v->len ? (const char *)v->base : "", v->len);
}

/* A List of Tokens: "a, b, c". */
static httpa_err put_token_list(httpa_buf *v, const char *const *list)
{
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && list[i] != NULL; i++) {
        if (i != 0)
            e = httpa_buf_append_str(v, ", ");
        if (e == HTTPA_OK)
            e = httpa_sf_put_token(v, list[i], strlen(list[i]));
    }
    return e;
}

static httpa_err ahl_of(const httpa_msg *m, const httpa_limits *lim, httpa_ahl_set set,
                        httpa_buf *ahl)
{
    httpa_fields f;
    httpa_err e = httpa_fields_parse(m, lim, &f);
    if (e == HTTPA_OK)
        e = httpa_ahl_build(m, &f, set, ahl);
    httpa_fields_free(&f);
    return e;
}

/* ------------------------------------------------------------------ */
/* configuration                                                        */

static bool list_valid(const char *const *list, int (*find)(const char *, size_t))
{
    if (list == NULL || list[0] == NULL)
        return false;
    for (size_t i = 0; list[i] != NULL; i++)
        if (find(list[i], strlen(list[i])) < 0 || list_index(list, list[i], strlen(list[i])) != (int)i)
            return false;
    return true;
}

static int suite_index(const char *tok, size_t len)
{
    return httpa_suite_find(tok, len) != NULL ? 0 : -1;
}

static bool creation_valid(const char *t)
{
    return t == NULL || strcmp(t, "new") == 0 || strcmp(t, "reuse") == 0 ||
           strcmp(t, "shared") == 0;
}

static httpa_err resolve_config(httpa_client_config *c)
{
    /* Fail closed: there is no default verifier (profile 7.8). */
    if (c->verifier == NULL || c->verifier->appraise == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (c->attester != NULL && (c->attester->quote == NULL || c->attester->tee == NULL))
        return HTTPA_ERR_INVALID_ARG;
    c->suites = c->suites != NULL ? c->suites : default_suites;
    c->groups = c->groups != NULL ? c->groups : default_groups;
    c->share_groups = c->share_groups != NULL ? c->share_groups : default_share_groups;
    c->target = c->target != NULL ? c->target : DEFAULT_TARGET;
    if (!list_valid(c->suites, suite_index) || !list_valid(c->groups, httpa_group_find) ||
        !list_valid(c->share_groups, httpa_group_find) ||
        (c->sig_algs != NULL && !list_valid(c->sig_algs, httpa_sig_find)) ||
        c->target[0] != '/' || !creation_valid(c->base_creation))
        return HTTPA_ERR_INVALID_ARG;
    size_t n = 0;
    for (; c->share_groups[n] != NULL; n++)
        if (n >= MAX_SHARES || list_index(c->groups, c->share_groups[n], strlen(c->share_groups[n])) < 0)
            return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

/* ------------------------------------------------------------------ */
/* the AtHS request (6.2.1)                                             */

/* One key pair per share group, then Attest-Random: the order of the rng. */
static httpa_err make_shares(httpa_client_hs *hs, httpa_buf *v, uint8_t random[32])
{
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; e == HTTPA_OK && hs->cfg.share_groups[i] != NULL; i++) {
        const char *g = hs->cfg.share_groups[i];
        uint8_t priv[32], pub[HTTPA_SIG_MAX_PUB];
        hs->share_group[i] = (httpa_group)httpa_group_find(g, strlen(g));
        e = httpa__rng(hs->cfg.rng, priv, sizeof(priv));
        if (e == HTTPA_OK)
            e = httpa_kex_new(hs->share_group[i], priv, sizeof(priv), pub, &hs->kex[i]);
        httpa_wipe(priv, sizeof(priv));
        if (e != HTTPA_OK)
            break;
        hs->nshares = i + 1;
        if (i != 0)
            e = httpa_buf_append_str(v, ", ");
        if (e == HTTPA_OK)
            e = httpa_sf_put_key(v, g, strlen(g));
        if (e == HTTPA_OK)
            e = httpa_buf_append_u8(v, '=');
        if (e == HTTPA_OK)
            e = httpa_sf_put_binary(v, pub, httpa_group_share_len(hs->share_group[i]));
    }
    return e == HTTPA_OK ? httpa__rng(hs->cfg.rng, random, 32) : e;
}

static httpa_err put_policies(const httpa_client_config *c, httpa_buf *v)
{
    httpa_err e = httpa_buf_append_str(v, "direct");
    if (e == HTTPA_OK && c->policies_explicit)
        e = httpa_buf_append_str(v, c->fresh ? ", allow-untrusted=?0, fresh"
                                             : ", allow-untrusted=?0, fresh=?0");
    else if (e == HTTPA_OK && c->fresh)
        e = httpa_buf_append_str(v, ", fresh");
    return e;
}

typedef struct req_values {
    httpa_buf shares;
    uint8_t random[32];
} req_values;

static httpa_err add_list(httpa_msg *m, const char *name, const char *const *list)
{
    httpa_buf v;
    httpa_buf_init(&v, 65536);
    httpa_err e = put_token_list(&v, list);
    if (e == HTTPA_OK)
        e = add_field(m, name, &v);
    httpa_buf_free(&v);
    return e;
}

static httpa_err add_item(httpa_msg *m, const char *name, httpa_err (*put)(httpa_buf *, const void *),
                          const void *arg)
{
    httpa_buf v;
    httpa_buf_init(&v, 65536);
    httpa_err e = put(&v, arg);
    if (e == HTTPA_OK)
        e = add_field(m, name, &v);
    httpa_buf_free(&v);
    return e;
}

static httpa_err put_date(httpa_buf *v, const void *arg)
{
    return httpa_sf_put_integer(v, *(const int64_t *)arg);
}

static httpa_err put_random(httpa_buf *v, const void *arg)
{
    return httpa_sf_put_binary(v, arg, 32);
}

static httpa_err put_policies_arg(httpa_buf *v, const void *arg)
{
    return put_policies(arg, v);
}

static httpa_err put_token_arg(httpa_buf *v, const void *arg)
{
    return httpa_sf_put_token(v, arg, strlen(arg));
}

/* The fields in the order of the profile's example request. */
static httpa_err write_request(httpa_client_hs *hs, httpa_msg *req, const req_values *rv)
{
    static const char *const versions[] = {HTTPA_VERSION_TOKEN, NULL};
    const httpa_client_config *c = &hs->cfg;
    httpa_err e = add_list(req, "Attest-Versions", versions);
    if (e == HTTPA_OK)
        e = add_item(req, "Attest-Date", put_date, &hs->start);
    if (e == HTTPA_OK)
        e = add_item(req, "Attest-Random", put_random, rv->random);
    if (e == HTTPA_OK)
        e = add_list(req, "Attest-Cipher-Suites", c->suites);
    if (e == HTTPA_OK)
        e = add_list(req, "Attest-Supported-Groups", c->groups);
    if (e == HTTPA_OK)
        e = add_field(req, "Attest-Key-Shares", &rv->shares);
    if (e == HTTPA_OK && c->sig_algs != NULL)
        e = add_list(req, "Attest-Signatures", c->sig_algs);
    if (e == HTTPA_OK)
        e = add_item(req, "Attest-Policies", put_policies_arg, c);
    if (e == HTTPA_OK && c->base_creation != NULL)
        e = add_item(req, "Attest-Base-Creation", put_token_arg, c->base_creation);
    if (e == HTTPA_OK && c->transport_field)
        e = add_item(req, "Attest-Transport", put_token_arg, "header");
    return e;
}

/* Mutual mode (14): evidence over SHA-512(label 0 || SHA-256(A_core)). */
static httpa_err add_client_quote(httpa_client_hs *hs, httpa_msg *req)
{
    httpa_attester *at = hs->cfg.attester;
    httpa_buf core, ev, v;
    uint8_t th_req[32], rd[HTTPA_REPORT_DATA_LEN];
    httpa_buf_init(&core, SIZE_MAX);
    httpa_buf_init(&ev, hs->limits.max_field_value);
    httpa_buf_init(&v, SIZE_MAX);
    httpa_err e = ahl_of(req, &hs->limits, HTTPA_X_CORE, &core);
    if (e == HTTPA_OK)
        e = httpa_hash(HTTPA_SHA256, httpa_buf_span(&core), th_req);
    const httpa_span parts[] = {HTTPA_SPAN(CLIENT_RD_LABEL, sizeof(CLIENT_RD_LABEL)),
                                HTTPA_SPAN(th_req, sizeof(th_req))};
    if (e == HTTPA_OK)
        e = httpa_hashv(HTTPA_SHA512, parts, 2, rd);
    if (e == HTTPA_OK)
        e = at->quote(at, rd, &ev);
    if (e == HTTPA_OK && ev.len == 0)
        e = HTTPA_ERR_INTERNAL;
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(&v, '(');
    if (e == HTTPA_OK)
        e = httpa_sf_put_token(&v, at->tee, strlen(at->tee));
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(&v, ' ');
    if (e == HTTPA_OK)
        e = httpa_sf_put_binary(&v, ev.base, ev.len);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&v, ");format=raw");
    if (e == HTTPA_OK)
        e = add_field(req, "Attest-Quotes", &v);
    httpa_buf_free(&core);
    httpa_buf_free(&ev);
    httpa_buf_free(&v);
    return e;
}

/* Keep the request exactly as sent: the transcript is computed from it. */
static httpa_err keep_sent(httpa_client_hs *hs, const httpa_msg *req)
{
    httpa_msg_init_request(&hs->sent);
    httpa_err e = httpa_msg_set_request_line(&hs->sent, req->method, req->method_len, req->target,
                                             req->target_len);
    for (size_t i = 0; e == HTTPA_OK && i < req->nheaders; i++) {
        const httpa_header *h = &req->headers[i];
        e = httpa_msg_add(&hs->sent, h->name, h->name_len, h->value, h->value_len);
    }
    return e;
}

static httpa_err build_request(httpa_client_hs *hs, httpa_msg *req)
{
    req_values rv;
    httpa_buf_init(&rv.shares, 4096);
    httpa_err e = httpa_msg_set_request_line(req, ATTEST_METHOD, strlen(ATTEST_METHOD),
                                             hs->cfg.target, strlen(hs->cfg.target));
    if (e == HTTPA_OK)
        e = make_shares(hs, &rv.shares, rv.random);
    if (e == HTTPA_OK)
        e = write_request(hs, req, &rv);
    if (e == HTTPA_OK && hs->cfg.attester != NULL)
        e = add_client_quote(hs, req);
    if (e == HTTPA_OK)
        e = keep_sent(hs, req);
    httpa_buf_free(&rv.shares);
    return e;
}

void httpa_client_hs_free(httpa_client_hs *hs)
{
    if (hs == NULL)
        return;
    for (size_t i = 0; i < hs->nshares; i++)
        httpa_kex_free(hs->kex[i]);
    httpa_msg_free(&hs->sent);
    httpa_wipe(hs, sizeof(*hs));
    free(hs);
}

httpa_err httpa_client_hs_start(const httpa_client_config *cfg, int64_t now, httpa_msg *req,
                                httpa_client_hs **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (cfg == NULL || req == NULL || req->is_response)
        return HTTPA_ERR_INVALID_ARG;
    httpa_client_hs *hs = calloc(1, sizeof(*hs));
    if (hs == NULL)
        return HTTPA_ERR_NOMEM;
    hs->cfg = *cfg;
    hs->limits = httpa_limits_resolve(cfg->limits);
    hs->start = now;
    httpa_err e = resolve_config(&hs->cfg);
    if (e == HTTPA_OK)
        e = build_request(hs, req);
    if (e != HTTPA_OK) {
        httpa_client_hs_free(hs);
        return e;
    }
    *out = hs;
    return HTTPA_OK;
}

/* ------------------------------------------------------------------ */
/* the AtHS response (6.2.4)                                            */

typedef struct fin {
    httpa_client_hs *hs;
    const httpa_msg *resp;
    httpa_span body;
    int64_t now;
    httpa_fields f;
    const httpa_suite *suite;
    size_t share;                  /* index of the share the server used */
    httpa_span server_share;
    int64_t expires;
    uint8_t th_hs[HTTPA_MAX_HASH];
    uint8_t core_hash[HTTPA_MAX_HASH];
    bool attested_key;
    httpa_sig_alg alg;             /* attested-key mode */
    httpa_span key;
    int64_t exp;
    httpa_appraisal appraisal;
    uint8_t shared[32];
    httpa_schedule ks;
    httpa_traffic s_hs;
    httpa_client_base *base;
} fin;

/* Step 1: a status other than 200 is the server's Attest-Error. */
static httpa_err fin_status(fin *x)
{
    if (x->resp->status == 200)
        return HTTPA_OK;
    const httpa_header *h = httpa_msg_find(x->resp, "attest-error", 12);
    if (h == NULL)
        return HTTPA_ERR_NETWORK; /* not from an HTTPA terminator: a transport failure */
    size_t b = 0, e = h->value_len;
    while (b < e && (h->value[b] == ' ' || h->value[b] == '\t'))
        b++;
    while (e > b && (h->value[e - 1] == ' ' || h->value[e - 1] == '\t'))
        e--;
    return httpa_err_from_token(h->value + b, e - b);
}

static const httpa_fid response_required[] = {
    HTTPA_F_VERSION, HTTPA_F_CIPHER_SUITE, HTTPA_F_SUPPORTED_GROUP, HTTPA_F_KEY_SHARE,
    HTTPA_F_RANDOM, HTTPA_F_BASE_ID, HTTPA_F_EXPIRES,
};

/* Step 2: fields, required ones, Base-ID and Expires (bad_request). */
static httpa_err fin_parse(fin *x)
{
    httpa_err e = httpa_fields_parse(x->resp, &x->hs->limits, &x->f);
    if (e != HTTPA_OK)
        return e == HTTPA_ERR_TOO_LARGE ? e : HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 0; i < sizeof(response_required) / sizeof(response_required[0]); i++)
        if (!httpa_fields_has(&x->f, response_required[i]))
            return HTTPA_ERR_BAD_REQUEST;
    const httpa_sf_bare *id = httpa_fields_item(&x->f, HTTPA_F_BASE_ID);
    if (!httpa_base_id_valid(id->bytes, id->len))
        return HTTPA_ERR_BAD_REQUEST;
    x->expires = httpa_fields_item(&x->f, HTTPA_F_EXPIRES)->integer;
    if (x->expires < 1 || x->expires > HTTPA_MAX_KEY_LIFETIME)
        return HTTPA_ERR_BAD_REQUEST;
    return HTTPA_OK;
}

static httpa_err fin_transport(fin *x)
{
    const httpa_sf_value *t = x->f.v[HTTPA_F_TRANSPORT];
    if (t == NULL)
        return x->hs->cfg.transport_field ? HTTPA_ERR_NEGOTIATION_FAILED : HTTPA_OK;
    if (!x->hs->cfg.transport_field || t->nmembers != 1 || t->members[0].is_inner ||
        !httpa_sf_bare_is(&t->members[0].item.bare, "header"))
        return HTTPA_ERR_NEGOTIATION_FAILED;
    return HTTPA_OK;
}

/* Step 3: what the server chose is what we offered (negotiation_failed),
 * and its key share is valid (bad_request). */
static httpa_err fin_negotiation(fin *x)
{
    const httpa_client_config *c = &x->hs->cfg;
    const httpa_sf_bare *suite = httpa_fields_item(&x->f, HTTPA_F_CIPHER_SUITE);
    const httpa_sf_bare *group = httpa_fields_item(&x->f, HTTPA_F_SUPPORTED_GROUP);
    if (!httpa_sf_bare_is(httpa_fields_item(&x->f, HTTPA_F_VERSION), HTTPA_VERSION_TOKEN) ||
        !bare_in(c->suites, suite) || !bare_in(c->groups, group))
        return HTTPA_ERR_NEGOTIATION_FAILED;
    int s = list_index(c->share_groups, (const char *)group->bytes, group->len);
    if (s < 0)
        return HTTPA_ERR_NEGOTIATION_FAILED;
    x->suite = httpa_suite_find((const char *)suite->bytes, suite->len);
    x->share = (size_t)s;
    httpa_err e = fin_transport(x);
    if (e != HTTPA_OK)
        return e;
    const httpa_sf_value *ks = x->f.v[HTTPA_F_KEY_SHARE];
    if (ks->nmembers != 1)
        return HTTPA_ERR_BAD_REQUEST;
    const httpa_sf_member *m = &ks->members[0];
    if (m->is_inner || m->key == NULL ||
        strlen(m->key) != group->len || memcmp(m->key, group->bytes, group->len) != 0)
        return HTTPA_ERR_BAD_REQUEST;
    x->server_share = HTTPA_SPAN(m->item.bare.bytes, m->item.bare.len);
    if (httpa_kex_check_share(x->hs->share_group[x->share], x->server_share) != HTTPA_OK)
        return HTTPA_ERR_BAD_REQUEST;
    return HTTPA_OK;
}

/* Step 4: TH_hs from the request as sent and the response as received. */
static httpa_err fin_transcript(fin *x)
{
    httpa_buf A, B;
    uint8_t la[4], lb[4];
    httpa_buf_init(&A, SIZE_MAX);
    httpa_buf_init(&B, SIZE_MAX);
    httpa_err e = ahl_of(&x->hs->sent, &x->hs->limits, HTTPA_X_FULL, &A);
    if (e == HTTPA_OK)
        e = httpa_ahl_build(x->resp, &x->f, HTTPA_X_CORE, &B);
    if (e == HTTPA_OK && (A.len > UINT32_MAX || B.len > UINT32_MAX))
        e = HTTPA_ERR_BAD_REQUEST;
    if (e == HTTPA_OK) {
        httpa_put_u32(la, (uint32_t)A.len);
        httpa_put_u32(lb, (uint32_t)B.len);
        const httpa_span parts[] = {HTTPA_SPAN(la, 4), httpa_buf_span(&A), HTTPA_SPAN(lb, 4),
                                    httpa_buf_span(&B)};
        e = httpa_hashv(x->suite->hash, parts, 4, x->th_hs);
    }
    if (e == HTTPA_OK)
        e = httpa_hash(x->suite->hash, httpa_buf_span(&B), x->core_hash);
    httpa_buf_free(&A);
    httpa_buf_free(&B);
    return e;
}

static bool has_key_params(const httpa_sf_member *m)
{
    return httpa_sf_param_find(m->params, m->nparams, "alg") != NULL ||
           httpa_sf_param_find(m->params, m->nparams, "key") != NULL ||
           httpa_sf_param_find(m->params, m->nparams, "exp") != NULL;
}

/* Step 5: the mode, and the entries' parameters agree with it. */
static httpa_err fin_mode(fin *x)
{
    const httpa_sf_value *q = x->f.v[HTTPA_F_QUOTES];
    if (q == NULL || q->nmembers == 0)
        return HTTPA_ERR_BAD_QUOTE; /* no evidence, no HTTPA (7.8) */
    x->attested_key = httpa_fields_has(&x->f, HTTPA_F_SIGNATURE);
    if (x->attested_key && x->hs->cfg.fresh)
        return HTTPA_ERR_BAD_QUOTE;
    for (size_t i = 0; !x->attested_key && i < q->nmembers; i++)
        if (has_key_params(&q->members[i]))
            return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

/* format, alg, key, exp present, typed, and in this order (7.2). */
static bool key_params_ok(const httpa_sf_member *m)
{
    static const char *const names[] = {"format", "alg", "key", "exp", NULL};
    static const httpa_sf_type types[] = {HTTPA_SF_TOKEN, HTTPA_SF_TOKEN, HTTPA_SF_BINARY,
                                          HTTPA_SF_INTEGER};
    size_t want = 0;
    for (size_t i = 0; i < m->nparams; i++) {
        const httpa_sf_param *p = &m->params[i];
        int k = list_index(names, p->key, strlen(p->key));
        if (k < 0)
            continue; /* unknown parameters are ignored */
        if ((size_t)k != want || p->value.type != types[k])
            return false;
        want++;
    }
    return want == 4;
}

static const char *const *accepted_sig_algs(const httpa_client_config *c)
{
    return c->sig_algs != NULL ? c->sig_algs : default_sig_algs;
}

/* 7.2 rules 1 and 2: a known, accepted alg; identical alg, key, exp on every
 * entry; now < exp <= now + 604800. */
static httpa_err attested_key_rules(fin *x)
{
    const httpa_sf_value *q = x->f.v[HTTPA_F_QUOTES];
    const httpa_sf_member *m0 = &q->members[0];
    for (size_t i = 0; i < q->nmembers; i++)
        if (!key_params_ok(&q->members[i]))
            return HTTPA_ERR_BAD_QUOTE;
    const httpa_sf_param *alg = httpa_sf_param_find(m0->params, m0->nparams, "alg");
    const httpa_sf_param *key = httpa_sf_param_find(m0->params, m0->nparams, "key");
    const httpa_sf_param *exp = httpa_sf_param_find(m0->params, m0->nparams, "exp");
    int a = httpa_sig_find((const char *)alg->value.bytes, alg->value.len);
    if (a < 0 || !bare_in(accepted_sig_algs(&x->hs->cfg), &alg->value))
        return HTTPA_ERR_BAD_QUOTE;
    for (size_t i = 1; i < q->nmembers; i++) {
        const httpa_sf_member *m = &q->members[i];
        if (!bare_eq(&httpa_sf_param_find(m->params, m->nparams, "alg")->value, &alg->value) ||
            !bare_eq(&httpa_sf_param_find(m->params, m->nparams, "key")->value, &key->value) ||
            !bare_eq(&httpa_sf_param_find(m->params, m->nparams, "exp")->value, &exp->value))
            return HTTPA_ERR_BAD_QUOTE;
    }
    x->alg = (httpa_sig_alg)a;
    x->key = HTTPA_SPAN(key->value.bytes, key->value.len);
    x->exp = exp->value.integer;
    if (!(x->now < x->exp) || x->exp - x->now > HTTPA_MAX_KEY_LIFETIME)
        return HTTPA_ERR_BAD_QUOTE;
    if (x->key.len != httpa_sig_pub_len(x->alg))
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

/* The report_data every verified entry must bind (7.2 or 7.3). */
static httpa_err expected_report_data(const fin *x, uint8_t rd[HTTPA_REPORT_DATA_LEN])
{
    if (x->attested_key)
        return httpa_attested_key_report_data(x->alg, x->key, x->exp, rd);
    const httpa_span parts[] = {HTTPA_SPAN(SERVER_RD_LABEL, sizeof(SERVER_RD_LABEL)),
                                HTTPA_SPAN(x->th_hs, x->suite->hlen)};
    return httpa_hashv(HTTPA_SHA512, parts, 2, rd);
}

static bool is_sim(const httpa_sf_member *m)
{
    return httpa_sf_bare_is(&m->inner[0].bare, "sim");
}

/* One entry: OK (verified, bound), UNSUPPORTED (ignored) or bad_quote. */
static httpa_err appraise_entry(fin *x, const httpa_sf_member *m, const uint8_t *rd,
                                httpa_appraisal *ap)
{
    const httpa_sf_param *fmt = httpa_sf_param_find(m->params, m->nparams, "format");
    if (!m->is_inner || m->ninner != 2 || m->inner[0].bare.type != HTTPA_SF_TOKEN ||
        m->inner[1].bare.type != HTTPA_SF_BINARY || fmt == NULL ||
        fmt->value.type != HTTPA_SF_TOKEN)
        return HTTPA_ERR_BAD_QUOTE;
    httpa_verifier *v = x->hs->cfg.verifier;
    httpa_span ev = HTTPA_SPAN(m->inner[1].bare.bytes, m->inner[1].bare.len);
    httpa_err e = v->appraise(v, (const char *)m->inner[0].bare.bytes,
                              (const char *)fmt->value.bytes, ev, x->now, ap);
    if (e == HTTPA_ERR_UNSUPPORTED)
        return e;
    if (e != HTTPA_OK || (ap->simulated && !x->hs->cfg.allow_sim) ||
        !httpa_ct_equal(ap->report_data, rd, HTTPA_REPORT_DATA_LEN))
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

/* 7.2 rule 3 / 7.3 / 7.4: every entry the verifier can check verifies and
 * binds the expected report_data; at least one does; `sim` needs allow_sim. */
static httpa_err verify_evidence(fin *x)
{
    const httpa_sf_value *q = x->f.v[HTTPA_F_QUOTES];
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    for (size_t i = 0; i < q->nmembers; i++)
        if (!q->members[i].is_inner || q->members[i].ninner != 2 ||
            (is_sim(&q->members[i]) && !x->hs->cfg.allow_sim))
            return HTTPA_ERR_BAD_QUOTE;
    if (expected_report_data(x, rd) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    size_t verified = 0;
    for (size_t i = 0; i < q->nmembers; i++) {
        httpa_appraisal ap;
        httpa_err e = appraise_entry(x, &q->members[i], rd, &ap);
        if (e == HTTPA_ERR_UNSUPPORTED)
            continue;
        if (e != HTTPA_OK)
            return HTTPA_ERR_BAD_QUOTE;
        if (verified++ == 0)
            x->appraisal = ap;
    }
    return verified != 0 ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
}

/* 7.2 rule 4: Verify(key, "httpa2 server signature" 0 || TH_hs || Hash(QV)). */
static httpa_err verify_signature(fin *x)
{
    const httpa_sf_bare *sig = httpa_fields_item(&x->f, HTTPA_F_SIGNATURE);
    uint8_t qh[HTTPA_MAX_HASH], msg[sizeof(SIGNATURE_LABEL) + 2 * HTTPA_MAX_HASH];
    size_t hl = x->suite->hlen, n = sizeof(SIGNATURE_LABEL);
    if (sig == NULL || sig->len != HTTPA_SIG_LEN ||
        httpa_hash(x->suite->hash, httpa_buf_span(&x->f.canon[HTTPA_F_QUOTES]), qh) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    memcpy(msg, SIGNATURE_LABEL, n); /* with the 0x00 */
    memcpy(msg + n, x->th_hs, hl);
    memcpy(msg + n + hl, qh, hl);
    if (httpa_verify(x->alg, x->key, HTTPA_SPAN(msg, n + 2 * hl),
                     HTTPA_SPAN(sig->bytes, sig->len)) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

/* Step 6: evidence and, in attested-key mode, the signature (bad_quote). */
static httpa_err fin_evidence(fin *x)
{
    httpa_err e = x->attested_key ? attested_key_rules(x) : HTTPA_OK;
    if (e == HTTPA_OK)
        e = verify_evidence(x);
    if (e == HTTPA_OK && x->attested_key)
        e = verify_signature(x);
    return e;
}

/* Step 7: shared secret and key schedule. */
static httpa_err fin_keys(fin *x)
{
    httpa_err e = httpa_kex_derive(x->hs->kex[x->share], x->server_share, x->shared);
    if (e == HTTPA_OK)
        e = httpa_schedule_derive(&x->ks, x->suite, x->shared, x->th_hs);
    httpa_wipe(x->shared, sizeof(x->shared));
    if (e == HTTPA_OK)
        e = httpa_traffic_init(&x->s_hs, x->suite, x->ks.s_hs);
    return e;
}

/* Step 8a: Attest-Binder with the s_hs MAC key, seq 0, bound to TH_hs. */
static httpa_err fin_binder(fin *x)
{
    const httpa_sf_bare *b = httpa_fields_item(&x->f, HTTPA_F_BINDER);
    uint64_t seq;
    const uint8_t *mac;
    if (b == NULL || httpa_auth_split(x->suite, HTTPA_SPAN(b->bytes, b->len), &seq, &mac) != HTTPA_OK ||
        seq != 0)
        return HTTPA_ERR_BAD_TICKET;
    httpa_buf full;
    uint8_t h[HTTPA_MAX_HASH], want[HTTPA_MAX_HASH];
    httpa_buf_init(&full, SIZE_MAX);
    httpa_err e = httpa_ahl_build(x->resp, &x->f, HTTPA_X_FULL, &full);
    if (e == HTTPA_OK)
        e = httpa_hash(x->suite->hash, httpa_buf_span(&full), h);
    if (e == HTTPA_OK)
        e = httpa_binder_mac(x->suite, x->s_hs.mac_key, 0, x->th_hs, h, want);
    httpa_buf_free(&full);
    if (e != HTTPA_OK)
        return e;
    bool ok = httpa_ct_equal(want, mac, x->suite->hlen);
    httpa_wipe(want, sizeof(want));
    return ok ? HTTPA_OK : HTTPA_ERR_BAD_TICKET;
}

static httpa_client_base *base_alloc(void)
{
    httpa_client_base *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        atomic_init(&b->next_seq, 0);
        atomic_init(&b->refs, 1);
        atomic_init(&b->closed, false);
    }
    return b;
}

static httpa_err secrets_alloc(httpa_client_base *b, size_t n)
{
    b->secret_names = calloc(n, sizeof(*b->secret_names));
    b->secret_spans = calloc(n, sizeof(*b->secret_spans));
    b->secret_values = calloc(n, sizeof(*b->secret_values));
    if (b->secret_names == NULL || b->secret_spans == NULL || b->secret_values == NULL)
        return HTTPA_ERR_NOMEM;
    return HTTPA_OK;
}

/* Step 8b: open Attest-Secrets (items 2 + i) into the base. */
static httpa_err open_secrets(fin *x, httpa_client_base *b)
{
    const httpa_sf_value *s = x->f.v[HTTPA_F_SECRETS];
    if (s == NULL)
        return HTTPA_OK;
    if (s->nmembers > MAX_SECRETS || s->duplicate_keys)
        return HTTPA_ERR_BAD_REQUEST;
    httpa_err e = secrets_alloc(b, s->nmembers);
    for (size_t i = 0; e == HTTPA_OK && i < s->nmembers; i++) {
        const httpa_sf_member *m = &s->members[i];
        httpa_buf *v = &b->secret_values[i];
        httpa_buf_init_sensitive(v, x->hs->limits.max_secret);
        b->nsecrets = i + 1;
        b->secret_names[i] = m->key != NULL ? strdup(m->key) : NULL;
        if (b->secret_names[i] == NULL)
            return HTTPA_ERR_NOMEM;
        if (m->is_inner || m->item.bare.len <= HTTPA_TAG_LEN ||
            m->item.bare.len - HTTPA_TAG_LEN > x->hs->limits.max_secret)
            return HTTPA_ERR_BAD_REQUEST;
        e = httpa_item_open(&x->s_hs, 0, (uint8_t)(HTTPA_ITEM_SECRET0 + i), x->core_hash,
                            HTTPA_SPAN(m->item.bare.bytes, m->item.bare.len), v);
        b->secret_spans[i] = httpa_buf_span(v);
    }
    return e == HTTPA_OK ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
}

/* Open the AtHS-response body records (9.2); the plaintext is verified and
 * discarded: this API has no consumer for an AtHS-response body. */
static httpa_err open_body(fin *x, const httpa_cargo *c)
{
    httpa_stream st;
    httpa_buf plain;
    uint64_t declared = (c->flags & HTTPA_CARGO_STREAMED) ? UINT64_MAX : c->content_length;
    httpa_buf_init_sensitive(&plain, SIZE_MAX);
    httpa_err e = httpa_stream_init(&st, &x->s_hs, 0, x->core_hash, c->record_size, declared,
                                    x->hs->limits.max_body);
    if (e == HTTPA_OK) {
        e = httpa_stream_open(&st, x->body, true, &plain);
        httpa_stream_free(&st);
    }
    httpa_buf_free(&plain);
    return e;
}

/* Step 8c: Attest-Cargo (item 1) and the body it announces. */
static httpa_err open_cargo(fin *x)
{
    const httpa_sf_bare *ct = httpa_fields_item(&x->f, HTTPA_F_CARGO);
    if (ct == NULL)
        return HTTPA_OK; /* any content is discarded */
    httpa_buf plain;
    httpa_cargo c;
    memset(&c, 0, sizeof(c));
    httpa_buf_init_sensitive(&plain, x->hs->limits.max_cargo);
    httpa_err e = httpa_item_open(&x->s_hs, 0, HTTPA_ITEM_CARGO, x->core_hash,
                                  HTTPA_SPAN(ct->bytes, ct->len), &plain);
    if (e == HTTPA_OK)
        e = httpa_cargo_decode(httpa_buf_span(&plain), &c);
    if (e == HTTPA_OK && (c.flags & HTTPA_CARGO_TARGET))
        e = HTTPA_ERR_BAD_REQUEST;
    if (e == HTTPA_OK)
        e = (c.flags & HTTPA_CARGO_BODY) ? open_body(x, &c)
                                         : (x->body.len != 0 ? HTTPA_ERR_BAD_REQUEST : HTTPA_OK);
    httpa_cargo_clear(&c);
    httpa_buf_free(&plain);
    if (e == HTTPA_ERR_TOO_LARGE)
        return e;
    return e == HTTPA_OK ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
}

static httpa_err base_keys(httpa_traffic *t, const httpa_suite *s, const uint8_t *secret)
{
    httpa_err e = httpa_traffic_init(t, s, secret);
    if (e == HTTPA_OK) {
        httpa_aead_free(t->aead); /* transactions key their own contexts */
        t->aead = NULL;
    }
    return e;
}

/* Step 9: the Attest Base. */
static httpa_err fin_base(fin *x)
{
    httpa_client_base *b = base_alloc();
    if (b == NULL)
        return HTTPA_ERR_NOMEM;
    x->base = b;
    const httpa_sf_bare *id = httpa_fields_item(&x->f, HTTPA_F_BASE_ID);
    memcpy(b->id, id->bytes, HTTPA_BASE_ID_LEN);
    b->id[HTTPA_BASE_ID_LEN] = '\0';
    b->suite = x->suite;
    b->limits = x->hs->limits;
    b->expires_at = x->hs->start + x->expires;
    b->appraisal = x->appraisal;
    httpa_err e = open_secrets(x, b);
    if (e == HTTPA_OK)
        e = open_cargo(x);
    if (e == HTTPA_OK)
        e = base_keys(&b->c_ap, x->suite, x->ks.c_ap);
    if (e == HTTPA_OK)
        e = base_keys(&b->s_ap, x->suite, x->ks.s_ap);
    if (e == HTTPA_OK)
        memcpy(b->exporter_master, x->ks.exporter_master, x->suite->hlen);
    return e;
}

static httpa_err fin_run(fin *x)
{
    httpa_err e = fin_status(x);
    if (e == HTTPA_OK)
        e = fin_parse(x);
    if (e == HTTPA_OK)
        e = fin_negotiation(x);
    if (e == HTTPA_OK)
        e = fin_transcript(x);
    if (e == HTTPA_OK)
        e = fin_mode(x);
    if (e == HTTPA_OK)
        e = fin_evidence(x);
    /* Keys exist only after the evidence verified; the base only after the binder. */
    if (e == HTTPA_OK)
        e = fin_keys(x);
    if (e == HTTPA_OK)
        e = fin_binder(x);
    if (e == HTTPA_OK)
        e = fin_base(x);
    return e;
}

httpa_err httpa_client_hs_finish(httpa_client_hs *hs, const httpa_msg *resp, httpa_span body,
                                 int64_t now, httpa_client_base **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (hs == NULL || resp == NULL || !resp->is_response || (body.base == NULL && body.len != 0))
        return HTTPA_ERR_INVALID_ARG;
    if (hs->done)
        return HTTPA_ERR_BAD_STATE;
    fin x;
    memset(&x, 0, sizeof(x));
    x.hs = hs;
    x.resp = resp;
    x.body = body;
    x.now = now;
    httpa_err e = fin_run(&x);
    if (e == HTTPA_OK)
        *out = x.base;
    else
        httpa_client_base_release(x.base);
    /* One response per request: the private shares go now, on every path. */
    hs->done = true;
    for (size_t i = 0; i < hs->nshares; i++) {
        httpa_kex_free(hs->kex[i]);
        hs->kex[i] = NULL;
    }
    httpa_fields_free(&x.f);
    httpa_schedule_wipe(&x.ks);
    httpa_traffic_wipe(&x.s_hs);
    httpa_wipe(&x, sizeof(x));
    return e;
}

/* ------------------------------------------------------------------ */
/* the client Attest Base                                               */

size_t httpa_client_base_secrets(const httpa_client_base *b, const char *const **names,
                                 const httpa_span **values)
{
    if (b == NULL)
        return 0;
    if (names != NULL)
        *names = (const char *const *)b->secret_names;
    if (values != NULL)
        *values = b->secret_spans;
    return b->nsecrets;
}

const httpa_appraisal *httpa_client_base_appraisal(const httpa_client_base *b)
{
    return b != NULL ? &b->appraisal : NULL;
}

const char *httpa_client_base_id(const httpa_client_base *b)
{
    return b != NULL ? b->id : NULL;
}

const char *httpa_client_base_suite(const httpa_client_base *b)
{
    return b != NULL && b->suite != NULL ? b->suite->token : NULL;
}

bool httpa_client_base_expired(const httpa_client_base *b, int64_t now)
{
    return b == NULL || now >= b->expires_at || atomic_load(&b->closed);
}

void httpa_client_base_release(httpa_client_base *b)
{
    if (b == NULL || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    httpa_traffic_wipe(&b->c_ap);
    httpa_traffic_wipe(&b->s_ap);
    for (size_t i = 0; i < b->nsecrets; i++) {
        free(b->secret_names[i]);
        httpa_buf_free(&b->secret_values[i]);
    }
    free(b->secret_names);
    free(b->secret_spans);
    free(b->secret_values);
    httpa_wipe(b, sizeof(*b));
    free(b);
}
