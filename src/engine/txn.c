/* Message protection steps shared by both ends of AtSP and TrT (txn.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/txn.h"
#include "httpa/sf.h"

#define NAME_LEN(s) (sizeof(s) - 1)

enum { VALUE_MAX = 65535 }; /* a Cargo content type or coding has a u16 length */

static httpa_err add_lit(httpa_msg *m, const char *name, const char *value)
{
    return httpa_msg_add(m, name, strlen(name), value, strlen(value));
}

/* Append a line and flag it as restored from the Cargo. */
static httpa_err add_sealed(httpa_msg *m, const char *name, size_t nlen, const uint8_t *value,
                            size_t vlen)
{
    httpa_err e = httpa_msg_add(m, name, nlen, (const char *)value, vlen);
    if (e == HTTPA_OK)
        m->headers[m->nheaders - 1].sealed = true;
    return e;
}

static bool starts_with_attest(const char *name, size_t len)
{
    static const char prefix[] = "attest-";
    size_t n = NAME_LEN(prefix);
    return len >= n && httpa_name_eq(name, n, prefix, n);
}

bool httpa__name_in(const char *name, size_t len, const char *const *list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (httpa_name_eq(name, len, list[i], strlen(list[i])))
            return true;
    return false;
}

httpa_err httpa__wire_err(httpa_err e)
{
    return httpa_err_token(e) != NULL ? e : HTTPA_ERR_INTERNAL;
}

void httpa__secrets_free(httpa_secret_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->names != NULL && s->names[i] != NULL) {
            httpa_wipe(s->names[i], strlen(s->names[i]));
            free(s->names[i]);
        }
        if (s->values != NULL)
            httpa_buf_free(&s->values[i]);
    }
    free(s->names);
    free(s->spans);
    free(s->values);
    memset(s, 0, sizeof(*s));
}

httpa_err httpa__txn_keys(httpa_traffic *dst, const httpa_traffic *src)
{
    memset(dst, 0, sizeof(*dst));
    const httpa_suite *s = src->suite;
    if (s == NULL)
        return HTTPA_ERR_INVALID_ARG;
    dst->suite = s;
    memcpy(dst->key, src->key, sizeof(dst->key));
    memcpy(dst->iv, src->iv, sizeof(dst->iv));
    memcpy(dst->mac_key, src->mac_key, sizeof(dst->mac_key));
    httpa_err e = httpa_aead_new(s->aead, HTTPA_SPAN(dst->key, s->key_len), &dst->aead);
    if (e != HTTPA_OK)
        httpa_traffic_wipe(dst);
    return e;
}

httpa_err httpa__ahl_hash(const httpa_msg *m, const httpa_fields *f, httpa_ahl_set set,
                          const httpa_suite *s, uint8_t *out)
{
    httpa_buf ahl;
    httpa_buf_init(&ahl, SIZE_MAX); /* bounded by the field limits of the parse */
    httpa_err e = httpa_ahl_build(m, f, set, &ahl);
    if (e == HTTPA_OK)
        e = httpa_hash(s->hash, httpa_buf_span(&ahl), out);
    httpa_buf_free(&ahl);
    return e;
}

/* ---- sending: the Cargo ---- */

void httpa__outgoing_free(httpa_outgoing *o)
{
    if (o == NULL)
        return;
    httpa_msg_free(&o->sealed);
    httpa_buf_free(&o->ctype);
    httpa_buf_free(&o->cenc);
    httpa_buf_free(&o->plain);
}

static void outgoing_init(httpa_outgoing *o, const httpa_limits *lim)
{
    memset(o, 0, sizeof(*o));
    httpa_msg_init_request(&o->sealed);
    httpa_buf_init_sensitive(&o->ctype, VALUE_MAX);
    httpa_buf_init_sensitive(&o->cenc, VALUE_MAX);
    httpa_buf_init_sensitive(&o->plain, lim->max_cargo);
}

/* The message's Connection field value, combined (profile 9.4). */
static httpa_err connection_of(const httpa_msg *m, httpa_buf *out)
{
    bool found;
    return httpa_msg_combine(m, "connection", NAME_LEN("connection"), out, &found);
}

/* Every name the application asked to seal must be sealable. */
static httpa_err check_seal_list(const char *const *list, httpa_span conn)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (!httpa_cargo_may_seal(HTTPA_SPAN(list[i], strlen(list[i])), conn))
            return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

/* Copy the lines to seal into `sealed` (names lower-cased, order kept),
 * then remove them from m. */
static httpa_err move_sealed(httpa_msg *m, const char *const *always, const char *const *extra,
                             httpa_msg *sealed)
{
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        if (!httpa__name_in(h->name, h->name_len, always) &&
            !httpa__name_in(h->name, h->name_len, extra))
            continue;
        httpa_err e = httpa_msg_add(sealed, h->name, h->name_len, h->value, h->value_len);
        if (e != HTTPA_OK)
            return e;
        char *n = sealed->headers[sealed->nheaders - 1].name;
        for (size_t k = 0; k < h->name_len; k++)
            if (n[k] >= 'A' && n[k] <= 'Z')
                n[k] = (char)(n[k] - 'A' + 'a');
    }
    for (size_t i = 0; i < sealed->nheaders; i++)
        httpa_msg_remove(m, sealed->headers[i].name, sealed->headers[i].name_len);
    return HTTPA_OK;
}

/* Content-Type and Content-Encoding go into the Cargo; the framing and
 * caching lines are replaced by the tail. */
static httpa_err take_content_fields(httpa_msg *m, httpa_outgoing *o)
{
    bool found;
    httpa_err e = httpa_msg_combine(m, "content-type", NAME_LEN("content-type"), &o->ctype, &found);
    if (e == HTTPA_OK)
        e = httpa_msg_combine(m, "content-encoding", NAME_LEN("content-encoding"), &o->cenc,
                              &found);
    if (e != HTTPA_OK)
        return e == HTTPA_ERR_TOO_LARGE ? HTTPA_ERR_INVALID_ARG : e;
    httpa_msg_remove(m, "content-type", NAME_LEN("content-type"));
    httpa_msg_remove(m, "content-encoding", NAME_LEN("content-encoding"));
    o->had_length = httpa_msg_remove(m, "content-length", NAME_LEN("content-length")) != 0;
    httpa_msg_remove(m, "transfer-encoding", NAME_LEN("transfer-encoding"));
    httpa_msg_remove(m, "cache-control", NAME_LEN("cache-control"));
    return HTTPA_OK;
}

/* The body description of a Cargo from the options. */
static void cargo_body(httpa_cargo *c, const httpa_seal_opts *o, uint32_t rs)
{
    if (o == NULL || !o->has_body)
        return;
    c->flags |= HTTPA_CARGO_BODY;
    c->record_size = rs;
    if (o->content_length == UINT64_MAX)
        c->flags |= HTTPA_CARGO_STREAMED;
    else
        c->content_length = o->content_length;
}

/* The sealed headers of a Cargo, viewing the lines of `sealed`. */
static httpa_err cargo_headers(const httpa_msg *sealed, httpa_cargo *c)
{
    size_t n = sealed->nheaders;
    if (n > HTTPA_CARGO_MAX_HEADERS)
        return HTTPA_ERR_INVALID_ARG;
    if (n != 0 && (c->headers = calloc(n, sizeof(*c->headers))) == NULL)
        return HTTPA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const httpa_header *h = &sealed->headers[i];
        c->headers[i].name = HTTPA_SPAN(h->name, h->name_len);
        c->headers[i].value = HTTPA_SPAN(h->value, h->value_len);
    }
    c->nheaders = n;
    return HTTPA_OK;
}

static httpa_err encode_cargo(const httpa_msg *m, const httpa_seal_opts *o, uint32_t rs,
                              bool target, httpa_outgoing *out)
{
    httpa_cargo c = {0};
    httpa_buf tgt; /* the origin-form of a sealed target is confidential */
    httpa_buf_init_sensitive(&tgt, SIZE_MAX);
    cargo_body(&c, o, rs);
    c.content_type = httpa_buf_span(&out->ctype);
    c.content_encoding = httpa_buf_span(&out->cenc);
    httpa_err e = HTTPA_OK;
    if (target) {
        c.flags |= HTTPA_CARGO_TARGET;
        c.method = HTTPA_SPAN(m->method, m->method_len);
        e = httpa_origin_form_append(m->target, m->target_len, &tgt);
        c.target = httpa_buf_span(&tgt);
    }
    if (e == HTTPA_OK)
        e = cargo_headers(&out->sealed, &c);
    if (e == HTTPA_OK)
        e = httpa_cargo_encode(&c, &out->plain);
    free(c.headers);
    httpa_buf_free(&tgt);
    return e;
}

httpa_err httpa__outgoing_build(httpa_msg *m, const char *const *always, const httpa_seal_opts *o,
                                uint32_t rs, bool target, const httpa_limits *lim,
                                httpa_outgoing *out)
{
    outgoing_init(out, lim);
    const char *const *extra = o != NULL ? o->seal : NULL;
    httpa_buf conn;
    httpa_buf_init(&conn, VALUE_MAX);
    httpa_err e = connection_of(m, &conn);
    if (e == HTTPA_OK)
        e = check_seal_list(extra, httpa_buf_span(&conn));
    httpa_buf_free(&conn);
    if (e == HTTPA_OK)
        e = move_sealed(m, always, extra, &out->sealed);
    if (e == HTTPA_OK)
        e = take_content_fields(m, out);
    if (e == HTTPA_OK)
        e = encode_cargo(m, o, rs, target, out);
    return e;
}

/* ---- sending: items, authenticators, framing ---- */

/* Append `:base64(octets):`. */
static httpa_err put_binary(httpa_buf *out, httpa_span v)
{
    return httpa_sf_put_binary(out, v.base, v.len);
}

static httpa_err secrets_valid(const char *const *names, const httpa_span *values, size_t n)
{
    if (n > HTTPA_MAX_SECRETS)
        return HTTPA_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL || values[i].len == 0 || values[i].len > 8192 ||
            values[i].base == NULL)
            return HTTPA_ERR_INVALID_ARG;
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[i], names[k]) == 0)
                return HTTPA_ERR_INVALID_ARG; /* unique names (profile 9.5) */
    }
    return HTTPA_OK;
}

/* The Attest-Secrets value: name=:ciphertext:, ... in the given order. */
static httpa_err secrets_value(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                               const char *const *names, const httpa_span *values, size_t n,
                               httpa_buf *out)
{
    httpa_buf ct;
    httpa_buf_init(&ct, SIZE_MAX);
    httpa_err e = secrets_valid(names, values, n);
    for (size_t i = 0; e == HTTPA_OK && i < n; i++) {
        if (i != 0)
            e = httpa_buf_append(out, ", ", 2);
        if (e == HTTPA_OK && httpa_sf_put_key(out, names[i], strlen(names[i])) != HTTPA_OK)
            e = HTTPA_ERR_INVALID_ARG;
        if (e == HTTPA_OK)
            e = httpa_buf_append_u8(out, '=');
        httpa_buf_reset(&ct);
        if (e == HTTPA_OK)
            e = httpa_item_seal(t, seq, (uint8_t)(HTTPA_ITEM_SECRET0 + i), core_hash, values[i],
                                &ct);
        if (e == HTTPA_OK)
            e = put_binary(out, httpa_buf_span(&ct));
    }
    httpa_buf_free(&ct);
    return e;
}

static httpa_err add_buf(httpa_msg *m, const char *name, const httpa_buf *v)
{
    return httpa_msg_add(m, name, strlen(name), (const char *)v->base, v->len);
}

httpa_err httpa__add_own(httpa_msg *m, httpa_fields *f, httpa_fid id, const char *name,
                         const httpa_buf *v)
{
    httpa_err e = add_buf(m, name, v);
    return e == HTTPA_OK ? httpa_fields_put_own(f, id, (const char *)v->base, v->len) : e;
}

httpa_err httpa__seal_items(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                            httpa_span cargo_plain, const char *const *names,
                            const httpa_span *values, size_t n, httpa_msg *m, httpa_fields *f)
{
    httpa_buf ct, val;
    httpa_buf_init(&ct, SIZE_MAX);
    httpa_buf_init(&val, SIZE_MAX);
    httpa_err e = httpa_item_seal(t, seq, HTTPA_ITEM_CARGO, core_hash, cargo_plain, &ct);
    if (e == HTTPA_OK)
        e = put_binary(&val, httpa_buf_span(&ct));
    if (e == HTTPA_OK)
        e = httpa__add_own(m, f, HTTPA_F_CARGO, "Attest-Cargo", &val);
    if (e == HTTPA_OK && n != 0) {
        httpa_buf_reset(&val);
        e = secrets_value(t, seq, core_hash, names, values, n, &val);
        if (e == HTTPA_OK)
            e = httpa__add_own(m, f, HTTPA_F_SECRETS, "Attest-Secrets", &val);
    }
    httpa_buf_free(&ct);
    httpa_buf_free(&val);
    return e;
}

httpa_err httpa__add_auth(httpa_msg *m, const char *name, uint64_t seq, const uint8_t *mac,
                          size_t hlen)
{
    uint8_t raw[8 + HTTPA_MAX_HASH];
    httpa_put_u64(raw, seq);
    memcpy(raw + 8, mac, hlen);
    httpa_buf val;
    httpa_buf_init(&val, SIZE_MAX);
    httpa_err e = put_binary(&val, HTTPA_SPAN(raw, 8 + hlen));
    if (e == HTTPA_OK)
        e = add_buf(m, name, &val);
    httpa_buf_free(&val);
    return e;
}

httpa_err httpa__add_tail(httpa_msg *m, const httpa_seal_opts *o, uint32_t rs, bool zero_length)
{
    bool body = o != NULL && o->has_body;
    bool streamed = body && o->content_length == UINT64_MAX;
    httpa_err e = HTTPA_OK;
    if (body)
        e = add_lit(m, "Content-Type", "application/octet-stream");
    if (e == HTTPA_OK)
        e = add_lit(m, "Cache-Control", "no-store, no-transform");
    if (e != HTTPA_OK)
        return e;
    if (body && !streamed) {
        char len[24];
        snprintf(len, sizeof(len), "%" PRIu64, httpa_stream_wire_len(o->content_length, rs));
        return add_lit(m, "Content-Length", len);
    }
    if (streamed)
        return add_lit(m, "Transfer-Encoding", "chunked");
    return zero_length ? add_lit(m, "Content-Length", "0") : HTTPA_OK;
}

/* Lines that precede the engine's Attest-* lines. */
static bool leads(const httpa_msg *m, const httpa_header *h)
{
    if (m->is_response)
        return starts_with_attest(h->name, h->name_len);
    return httpa_name_eq(h->name, h->name_len, "host", NAME_LEN("host"));
}

/* Case-insensitive order of two names (ASCII). */
static int name_cmp(const httpa_header *a, const httpa_header *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a->name[i], y = (unsigned char)b->name[i];
        x = (x >= 'A' && x <= 'Z') ? x + 32 : x;
        y = (y >= 'A' && y <= 'Z') ? y + 32 : y;
        if (x != y)
            return x - y;
    }
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Insertion sort of a few lines by name. */
static void sort_by_name(httpa_header *h, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        httpa_header x = h[i];
        size_t k = i;
        while (k > 0 && name_cmp(&h[k - 1], &x) > 0) {
            h[k] = h[k - 1];
            k--;
        }
        h[k] = x;
    }
}

httpa_err httpa__arrange(httpa_msg *m, size_t app, size_t eng)
{
    size_t n = m->nheaders;
    if (n == 0 || app > eng || eng > n)
        return n == 0 ? HTTPA_OK : HTTPA_ERR_INVALID_ARG;
    httpa_header *tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL)
        return HTTPA_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < app; i++)
        if (leads(m, &m->headers[i]))
            tmp[k++] = m->headers[i];
    size_t first = k;
    for (size_t i = app; i < eng; i++)
        tmp[k++] = m->headers[i];
    sort_by_name(tmp + first, eng - app);
    for (size_t i = 0; i < app; i++)
        if (!leads(m, &m->headers[i]))
            tmp[k++] = m->headers[i];
    for (size_t i = eng; i < n; i++)
        tmp[k++] = m->headers[i];
    /* A permutation of the same lines: ownership does not change. */
    memcpy(m->headers, tmp, n * sizeof(*tmp));
    free(tmp);
    return HTTPA_OK;
}

/* ---- receiving ---- */

httpa_err httpa__cargo_open(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                            const httpa_fields *f, const httpa_limits *lim, httpa_buf *plain,
                            httpa_cargo *c)
{
    memset(c, 0, sizeof(*c));
    const httpa_sf_bare *v = httpa_fields_item(f, HTTPA_F_CARGO);
    if (v == NULL || v->type != HTTPA_SF_BINARY || v->len < HTTPA_TAG_LEN)
        return HTTPA_ERR_BAD_REQUEST;
    if (v->len - HTTPA_TAG_LEN > lim->max_cargo)
        return HTTPA_ERR_TOO_LARGE;
    httpa_err e = httpa_item_open(t, seq, HTTPA_ITEM_CARGO, core_hash, HTTPA_SPAN(v->bytes, v->len),
                                  plain);
    if (e == HTTPA_OK)
        e = httpa_cargo_decode(httpa_buf_span(plain), c);
    if (e != HTTPA_OK)
        return e == HTTPA_ERR_NOMEM ? e : HTTPA_ERR_BAD_REQUEST;
    bool declared = (c->flags & HTTPA_CARGO_BODY) && !(c->flags & HTTPA_CARGO_STREAMED);
    if (declared && c->content_length > lim->max_body)
        return HTTPA_ERR_TOO_LARGE;
    return HTTPA_OK;
}

static httpa_err secrets_alloc(httpa_secret_set *out, size_t n)
{
    out->names = calloc(n, sizeof(*out->names));
    out->spans = calloc(n, sizeof(*out->spans));
    out->values = calloc(n, sizeof(*out->values));
    return out->names && out->spans && out->values ? HTTPA_OK : HTTPA_ERR_NOMEM;
}

/* Open member i of Attest-Secrets into out (which then counts it). */
static httpa_err secret_open(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                             const httpa_sf_member *mem, size_t i, const httpa_limits *lim,
                             httpa_secret_set *out)
{
    const httpa_sf_bare *b = &mem->item.bare;
    if (mem->is_inner || mem->key == NULL || b->type != HTTPA_SF_BINARY ||
        b->len <= HTTPA_TAG_LEN)
        return HTTPA_ERR_BAD_REQUEST;
    if (b->len - HTTPA_TAG_LEN > lim->max_secret)
        return HTTPA_ERR_TOO_LARGE;
    httpa_buf_init_sensitive(&out->values[i], lim->max_secret);
    out->names[i] = strdup(mem->key);
    out->n = i + 1;
    if (out->names[i] == NULL)
        return HTTPA_ERR_NOMEM;
    httpa_err e = httpa_item_open(t, seq, (uint8_t)(HTTPA_ITEM_SECRET0 + i), core_hash,
                                  HTTPA_SPAN(b->bytes, b->len), &out->values[i]);
    out->spans[i] = httpa_buf_span(&out->values[i]);
    return e == HTTPA_OK || e == HTTPA_ERR_NOMEM ? e : HTTPA_ERR_BAD_REQUEST;
}

httpa_err httpa__secrets_open(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                              const httpa_fields *f, const httpa_limits *lim,
                              httpa_secret_set *out)
{
    memset(out, 0, sizeof(*out));
    const httpa_sf_value *v = f->v[HTTPA_F_SECRETS];
    if (v == NULL)
        return HTTPA_OK;
    if (v->kind != HTTPA_SF_DICT || v->duplicate_keys || v->nmembers == 0 ||
        v->nmembers > HTTPA_MAX_SECRETS)
        return HTTPA_ERR_BAD_REQUEST;
    httpa_err e = secrets_alloc(out, v->nmembers);
    for (size_t i = 0; e == HTTPA_OK && i < v->nmembers; i++)
        e = secret_open(t, seq, core_hash, &v->members[i], i, lim, out);
    if (e != HTTPA_OK)
        httpa__secrets_free(out);
    return e;
}

httpa_err httpa__check_sealed(const httpa_msg *m, const httpa_cargo *c)
{
    httpa_buf conn;
    httpa_buf_init(&conn, SIZE_MAX);
    httpa_err e = connection_of(m, &conn);
    for (size_t i = 0; e == HTTPA_OK && i < c->nheaders; i++) {
        httpa_span n = c->headers[i].name;
        if (!httpa_cargo_may_seal(n, httpa_buf_span(&conn)) ||
            httpa_msg_find(m, (const char *)n.base, n.len) != NULL)
            e = HTTPA_ERR_BAD_REQUEST;
    }
    httpa_buf_free(&conn);
    if (e == HTTPA_OK &&
        httpa_msg_find(m, "content-encoding", NAME_LEN("content-encoding")) != NULL)
        e = HTTPA_ERR_BAD_REQUEST; /* codings belong in the Cargo (9.2) */
    return e;
}

/* Remove every line named like `h` (httpa_msg_remove frees the line it
 * matches, so it compares with a copy of the name). */
httpa_err httpa__check_no_content(const httpa_msg *m, const httpa_cargo *c)
{
    if (c->flags & HTTPA_CARGO_BODY)
        return HTTPA_OK;
    if (httpa_msg_find(m, "transfer-encoding", NAME_LEN("transfer-encoding")) != NULL)
        return HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        if (httpa_name_eq(h->name, h->name_len, "content-length", NAME_LEN("content-length")) &&
            !(h->value_len == 1 && h->value[0] == '0'))
            return HTTPA_ERR_BAD_REQUEST;
    }
    return HTTPA_OK;
}

static httpa_err remove_like(httpa_msg *m, const httpa_header *h)
{
    char small[64]; /* Attest-* names are short: no allocation per line */
    size_t n = h->name_len;
    char *name = n < sizeof(small) ? small : malloc(n + 1);
    if (name == NULL)
        return HTTPA_ERR_NOMEM;
    memcpy(name, h->name, n + 1);
    httpa_msg_remove(m, name, n);
    if (name != small)
        free(name);
    return HTTPA_OK;
}

static httpa_err remove_attest(httpa_msg *m, bool all)
{
    static const char *const protection[] = {"attest-ticket", "attest-binder", "attest-cargo",
                                             "attest-secrets"};
    if (!all) {
        for (size_t i = 0; i < sizeof(protection) / sizeof(protection[0]); i++)
            httpa_msg_remove(m, protection[i], strlen(protection[i]));
        return HTTPA_OK;
    }
    size_t i = 0;
    while (i < m->nheaders) {
        const httpa_header *h = &m->headers[i];
        if (!starts_with_attest(h->name, h->name_len)) {
            i++;
            continue;
        }
        httpa_err e = remove_like(m, h); /* compacts: look at i again */
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

static void remove_outer(httpa_msg *m, const httpa_cargo *c)
{
    static const char *const outer[] = {"cache-control", "content-type", "content-encoding",
                                        "content-length", "transfer-encoding"};
    for (size_t i = 0; i < sizeof(outer) / sizeof(outer[0]); i++)
        httpa_msg_remove(m, outer[i], strlen(outer[i]));
    for (size_t i = 0; i < c->nheaders; i++)
        httpa_msg_remove(m, (const char *)c->headers[i].name.base, c->headers[i].name.len);
}

static httpa_err add_content_fields(httpa_msg *m, const httpa_cargo *c)
{
    httpa_err e = HTTPA_OK;
    if (c->content_type.len != 0)
        e = add_sealed(m, "Content-Type", NAME_LEN("Content-Type"), c->content_type.base,
                       c->content_type.len);
    if (e == HTTPA_OK && c->content_encoding.len != 0)
        e = add_sealed(m, "Content-Encoding", NAME_LEN("Content-Encoding"),
                       c->content_encoding.base, c->content_encoding.len);
    if (e == HTTPA_OK && (c->flags & HTTPA_CARGO_BODY) && !(c->flags & HTTPA_CARGO_STREAMED)) {
        char len[24];
        int n = snprintf(len, sizeof(len), "%" PRIu64, c->content_length);
        e = add_sealed(m, "Content-Length", NAME_LEN("Content-Length"), (const uint8_t *)len,
                       (size_t)n);
    }
    return e;
}

httpa_err httpa__restore(httpa_msg *m, const httpa_cargo *c, bool all_attest)
{
    httpa_err e = remove_attest(m, all_attest);
    if (e != HTTPA_OK)
        return e;
    remove_outer(m, c);
    e = add_content_fields(m, c);
    for (size_t i = 0; e == HTTPA_OK && i < c->nheaders; i++)
        e = add_sealed(m, (const char *)c->headers[i].name.base, c->headers[i].name.len,
                       c->headers[i].value.base, c->headers[i].value.len);
    return e;
}

/* ---- bodies ---- */

httpa_err httpa__body_start(httpa_stream *st, bool *on, httpa_traffic *t, uint64_t seq,
                            const uint8_t *core_hash, const httpa_cargo *c, uint64_t max)
{
    *on = false;
    if (!(c->flags & HTTPA_CARGO_BODY))
        return HTTPA_OK;
    uint64_t declared = (c->flags & HTTPA_CARGO_STREAMED) ? UINT64_MAX : c->content_length;
    httpa_err e = httpa_stream_init(st, t, seq, core_hash, c->record_size, declared, max);
    *on = e == HTTPA_OK;
    return e;
}

httpa_err httpa__body_feed(httpa_stream *st, bool on, httpa_span wire, bool fin,
                           httpa_buf *plain)
{
    if (!on) /* the Cargo says there is no body (9.2) */
        return wire.len == 0 ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
    return httpa_stream_open(st, wire, fin, plain);
}
