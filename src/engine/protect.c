/* Message protection (profile 9.1, 9.2, 9.6): nonces, AAD, single items and
 * body record streams. */
#include <string.h>

#include "engine/protect.h"

#define AAD_MAX (14 + HTTPA_MAX_HASH)

void httpa_nonce(const uint8_t iv[HTTPA_IV_LEN], uint64_t seq, uint8_t item, uint32_t index,
                 uint8_t out[HTTPA_IV_LEN])
{
    uint8_t x[HTTPA_IV_LEN];
    httpa_put_u32(x, index);
    httpa_put_u64(x + 4, (seq << 8) | item);
    for (size_t i = 0; i < HTTPA_IV_LEN; i++)
        out[i] = (uint8_t)(iv[i] ^ x[i]);
}

size_t httpa_aad(uint64_t seq, uint8_t item, uint32_t index, bool is_final,
                 const uint8_t *ahl_hash, size_t hlen, uint8_t *out)
{
    httpa_put_u64(out, seq);
    out[8] = item;
    httpa_put_u32(out + 9, index);
    out[13] = is_final ? 1 : 0;
    memcpy(out + 14, ahl_hash, hlen);
    return 14 + hlen;
}

static bool traffic_ok(const httpa_traffic *t)
{
    return t != NULL && t->aead != NULL && t->suite != NULL && t->suite->hlen <= HTTPA_MAX_HASH;
}

/* AEAD over one record or item: the single place nonce and AAD are formed
 * from (seq, item, index, is_final). */
static httpa_err aead_apply(httpa_traffic *t, bool seal, uint64_t seq, uint8_t item,
                            uint32_t index, bool is_final, const uint8_t *ahl_hash,
                            const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t nonce[HTTPA_IV_LEN], aad[AAD_MAX];
    httpa_nonce(t->iv, seq, item, index, nonce);
    size_t alen = httpa_aad(seq, item, index, is_final, ahl_hash, t->suite->hlen, aad);
    httpa_span a = HTTPA_SPAN(aad, alen);
    if (seal)
        return httpa_aead_seal(t->aead, nonce, a, in, in_len, out);
    return httpa_aead_open(t->aead, nonce, a, in, in_len, out);
}

/* ---- single items (Cargo, secrets) ---- */

static httpa_err item_args(const httpa_traffic *t, uint64_t seq, const uint8_t *ahl_hash,
                           httpa_span in, const httpa_buf *out)
{
    if (!traffic_ok(t) || ahl_hash == NULL || out == NULL || (in.len != 0 && in.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (seq >= HTTPA_SEQ_LIMIT)
        return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

httpa_err httpa_item_seal(httpa_traffic *t, uint64_t seq, uint8_t item, const uint8_t *ahl_hash,
                          httpa_span pt, httpa_buf *out)
{
    httpa_err e = item_args(t, seq, ahl_hash, pt, out);
    if (e != HTTPA_OK)
        return e;
    if (pt.len > SIZE_MAX - HTTPA_TAG_LEN)
        return HTTPA_ERR_TOO_LARGE;
    size_t start = out->len;
    uint8_t *w;
    e = httpa_buf_extend(out, pt.len + HTTPA_TAG_LEN, &w);
    if (e != HTTPA_OK)
        return e;
    e = aead_apply(t, true, seq, item, 0, true, ahl_hash, pt.base, pt.len, w);
    if (e != HTTPA_OK) {
        httpa_wipe(w, pt.len + HTTPA_TAG_LEN);
        out->len = start;
    }
    return e;
}

httpa_err httpa_item_open(httpa_traffic *t, uint64_t seq, uint8_t item, const uint8_t *ahl_hash,
                          httpa_span ct, httpa_buf *out)
{
    httpa_err e = item_args(t, seq, ahl_hash, ct, out);
    if (e != HTTPA_OK)
        return e;
    if (ct.len < HTTPA_TAG_LEN)
        return HTTPA_ERR_BAD_REQUEST;
    size_t start = out->len, n = ct.len - HTTPA_TAG_LEN;
    uint8_t none[1], *w = none; /* an empty plaintext may meet an unallocated buffer */
    if (n != 0 && (e = httpa_buf_extend(out, n, &w)) != HTTPA_OK)
        return e;
    e = aead_apply(t, false, seq, item, 0, true, ahl_hash, ct.base, ct.len, w);
    if (e != HTTPA_OK) {
        httpa_wipe(w, n);
        out->len = start;
    }
    return e;
}

/* ---- record streams ---- */

uint64_t httpa_stream_wire_len(uint64_t len, uint32_t rs)
{
    if (rs == 0)
        return UINT64_MAX;
    uint64_t n = len / rs, r = len % rs, full = (uint64_t)rs + HTTPA_TAG_LEN;
    if (n > (UINT64_MAX - HTTPA_TAG_LEN - r) / full)
        return UINT64_MAX;
    return n * full + r + HTTPA_TAG_LEN;
}

httpa_err httpa_stream_init(httpa_stream *st, httpa_traffic *t, uint64_t seq,
                            const uint8_t *ahl_hash, uint32_t rs, uint64_t declared,
                            uint64_t max_total)
{
    if (st == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(st, 0, sizeof(*st));
    st->failed = true; /* until fully initialized */
    httpa_buf_init_sensitive(&st->pending, (size_t)HTTPA_RS_MAX + HTTPA_TAG_LEN);
    if (!traffic_ok(t) || ahl_hash == NULL || seq >= HTTPA_SEQ_LIMIT)
        return HTTPA_ERR_INVALID_ARG;
    if (rs < HTTPA_RS_MIN || rs > HTTPA_RS_MAX)
        return HTTPA_ERR_INVALID_ARG;
    if (declared != UINT64_MAX && declared > max_total)
        return HTTPA_ERR_TOO_LARGE;
    st->t = t;
    st->seq = seq;
    memcpy(st->ahl_hash, ahl_hash, t->suite->hlen);
    st->rs = rs;
    st->declared = declared;
    st->max_total = max_total;
    st->pending.max = (size_t)rs + HTTPA_TAG_LEN;
    st->failed = false;
    return HTTPA_OK;
}

void httpa_stream_free(httpa_stream *st)
{
    if (st == NULL)
        return;
    httpa_buf_free(&st->pending);
    st->t = NULL;
    st->failed = true;
}

/* Buffer octets in `pending`, allocating its full size once. */
static httpa_err pending_append(httpa_stream *st, const uint8_t *p, size_t n)
{
    httpa_buf *b = &st->pending;
    if (b->cap < b->max) {
        httpa_err e = httpa_buf_reserve(b, b->max - b->len);
        if (e != HTTPA_OK)
            return e;
    }
    return httpa_buf_append(b, p, n);
}

/* Move up to `want - pending.len` octets from (*p, *n) into pending. */
static httpa_err pending_fill(httpa_stream *st, size_t want, const uint8_t **p, size_t *n)
{
    size_t take = want - st->pending.len;
    if (take > *n)
        take = *n;
    if (take == 0)
        return HTTPA_OK; /* *p may be NULL */
    httpa_err e = pending_append(st, *p, take);
    *p += take;
    *n -= take;
    return e;
}

/* ---- sealer ---- */

/* Every limit is checked before anything is sealed. */
static httpa_err seal_check(const httpa_stream *st, size_t len, bool fin)
{
    if (len > SIZE_MAX / 2 || st->total > UINT64_MAX - len)
        return HTTPA_ERR_TOO_LARGE;
    uint64_t after = st->total + len;
    if (st->declared != UINT64_MAX && (after > st->declared || (fin && after != st->declared)))
        return HTTPA_ERR_BAD_REQUEST;
    if (after > st->max_total)
        return HTTPA_ERR_TOO_LARGE;
    /* The final record needs an index below 2^32 too. */
    uint64_t full = (st->pending.len + (uint64_t)len) / st->rs;
    if ((uint64_t)st->index + full > UINT32_MAX)
        return HTTPA_ERR_TOO_LARGE;
    return HTTPA_OK;
}

static size_t seal_out_len(const httpa_stream *st, size_t len, bool fin)
{
    size_t avail = st->pending.len + len, rs = st->rs;
    size_t out = (avail / rs) * (rs + HTTPA_TAG_LEN);
    return fin ? out + avail % rs + HTTPA_TAG_LEN : out;
}

static httpa_err seal_one(httpa_stream *st, const uint8_t *pt, size_t len, bool fin,
                          httpa_buf *wire)
{
    uint8_t *w;
    httpa_err e = httpa_buf_extend(wire, len + HTTPA_TAG_LEN, &w);
    if (e == HTTPA_OK)
        e = aead_apply(st->t, true, st->seq, HTTPA_ITEM_BODY, st->index, fin, st->ahl_hash, pt,
                       len, w);
    if (e == HTTPA_OK && !fin)
        st->index++;
    return e;
}

static httpa_err seal_run(httpa_stream *st, const uint8_t *p, size_t n, bool fin,
                          httpa_buf *wire)
{
    httpa_err e = HTTPA_OK;
    if (st->pending.len > 0) {
        e = pending_fill(st, st->rs, &p, &n);
        if (e == HTTPA_OK && st->pending.len == st->rs) {
            e = seal_one(st, st->pending.base, st->rs, false, wire);
            httpa_buf_reset(&st->pending);
        }
    }
    /* Full records straight from the caller's input: no copy. */
    for (; e == HTTPA_OK && n >= st->rs; p += st->rs, n -= st->rs)
        e = seal_one(st, p, st->rs, false, wire);
    if (e != HTTPA_OK)
        return e;
    if (!fin)
        return n > 0 ? pending_append(st, p, n) : HTTPA_OK;
    if (st->pending.len > 0)
        e = seal_one(st, st->pending.base, st->pending.len, true, wire);
    else
        e = seal_one(st, p, n, true, wire);
    httpa_buf_reset(&st->pending);
    return e;
}

httpa_err httpa_stream_seal(httpa_stream *st, httpa_span plain, bool fin, httpa_buf *wire)
{
    if (st == NULL || wire == NULL || (plain.len != 0 && plain.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (st->failed || st->done)
        return HTTPA_ERR_BAD_STATE;
    size_t start = wire->len;
    httpa_err e = seal_check(st, plain.len, fin);
    if (e == HTTPA_OK)
        e = httpa_buf_reserve(wire, seal_out_len(st, plain.len, fin));
    if (e == HTTPA_OK)
        e = seal_run(st, plain.base, plain.len, fin, wire);
    if (e != HTTPA_OK) {
        st->failed = true;
        httpa_buf_reset(&st->pending);
        wire->len = start;
        return e;
    }
    st->total += plain.len;
    st->done = fin;
    return HTTPA_OK;
}

/* ---- opener ---- */

/* With a declared length the exact wire length is known: more octets than
 * that are an error at once, before any of them is opened. */
static httpa_err open_check_wire(const httpa_stream *st, size_t len)
{
    if (st->declared == UINT64_MAX)
        return HTTPA_OK;
    uint64_t expected = httpa_stream_wire_len(st->declared, st->rs);
    uint64_t seen = (uint64_t)st->index * ((uint64_t)st->rs + HTTPA_TAG_LEN) + st->pending.len;
    if (seen > expected || len > expected - seen)
        return HTTPA_ERR_BAD_REQUEST;
    return HTTPA_OK;
}

/* Limits for a record of `n` plaintext octets, checked before opening it. */
static httpa_err open_account(const httpa_stream *st, uint64_t n, bool fin)
{
    if (!fin && st->index == UINT32_MAX)
        return HTTPA_ERR_TOO_LARGE; /* its final record would need index 2^32 */
    if (st->total > UINT64_MAX - n)
        return HTTPA_ERR_TOO_LARGE;
    uint64_t after = st->total + n;
    if (st->declared != UINT64_MAX && (after > st->declared || (fin && after != st->declared)))
        return HTTPA_ERR_BAD_REQUEST;
    if (after > st->max_total)
        return HTTPA_ERR_TOO_LARGE;
    return HTTPA_OK;
}

/* Open one record of ct_len octets directly into `plain`. */
static httpa_err open_one(httpa_stream *st, const uint8_t *ct, size_t ct_len, bool fin,
                          httpa_buf *plain)
{
    if (ct_len < HTTPA_TAG_LEN)
        return HTTPA_ERR_BAD_REQUEST; /* truncated, or ends at a record boundary */
    size_t n = ct_len - HTTPA_TAG_LEN;
    httpa_err e = open_account(st, n, fin);
    uint8_t none[1], *w = none; /* an empty final record may meet an unallocated buffer */
    if (e == HTTPA_OK && n != 0)
        e = httpa_buf_extend(plain, n, &w);
    if (e == HTTPA_OK)
        e = aead_apply(st->t, false, st->seq, HTTPA_ITEM_BODY, st->index, fin, st->ahl_hash, ct,
                       ct_len, w);
    if (e != HTTPA_OK)
        return e;
    st->total += n;
    if (!fin)
        st->index++;
    return HTTPA_OK;
}

static size_t open_out_max(const httpa_stream *st, size_t len, bool fin)
{
    size_t full = (size_t)st->rs + HTTPA_TAG_LEN;
    size_t avail = st->pending.len + len, rest = avail % full;
    size_t last = fin && rest > HTTPA_TAG_LEN ? rest - HTTPA_TAG_LEN : 0;
    return (avail / full) * st->rs + last; /* exact: a caller may size `plain` tightly */
}

static httpa_err open_run(httpa_stream *st, const uint8_t *p, size_t n, bool fin,
                          httpa_buf *plain)
{
    size_t full = (size_t)st->rs + HTTPA_TAG_LEN;
    httpa_err e = httpa_buf_reserve(plain, open_out_max(st, n, fin));
    /* 9.2 receiver step 1: every RS + 16 buffered octets are a non-final record. */
    if (e == HTTPA_OK && st->pending.len > 0) {
        e = pending_fill(st, full, &p, &n);
        if (e == HTTPA_OK && st->pending.len == full) {
            e = open_one(st, st->pending.base, full, false, plain);
            httpa_buf_reset(&st->pending);
        }
    }
    for (; e == HTTPA_OK && n >= full; p += full, n -= full)
        e = open_one(st, p, full, false, plain);
    if (e != HTTPA_OK)
        return e;
    if (!fin)
        return n > 0 ? pending_append(st, p, n) : HTTPA_OK;
    /* Step 2: the rest (< RS + 16 octets) must be the final record. */
    if (st->pending.len > 0)
        e = open_one(st, st->pending.base, st->pending.len, true, plain);
    else
        e = open_one(st, p, n, true, plain);
    httpa_buf_reset(&st->pending);
    return e;
}

httpa_err httpa_stream_open(httpa_stream *st, httpa_span wire, bool fin, httpa_buf *plain)
{
    if (st == NULL || plain == NULL || (wire.len != 0 && wire.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    if (st->failed || st->done)
        return HTTPA_ERR_BAD_STATE;
    if (wire.len > SIZE_MAX / 2)
        return HTTPA_ERR_TOO_LARGE;
    size_t start = plain->len;
    httpa_err e = open_check_wire(st, wire.len);
    if (e == HTTPA_OK)
        e = open_run(st, wire.base, wire.len, fin, plain);
    if (e != HTTPA_OK) {
        /* Step 3: fail for good; nothing of this call is released. */
        st->failed = true;
        httpa_buf_reset(&st->pending);
        if (plain->len > start)
            httpa_wipe(plain->base + start, plain->len - start);
        plain->len = start;
        return e;
    }
    st->done = fin;
    return HTTPA_OK;
}
