#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "httpa/buf.h"

void httpa_wipe(void *p, size_t n)
{
    if (p != NULL && n != 0)
        OPENSSL_cleanse(p, n);
}

int httpa_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void httpa_buf_init(httpa_buf *b, size_t max)
{
    *b = (httpa_buf){.max = max};
}

void httpa_buf_init_sensitive(httpa_buf *b, size_t max)
{
    *b = (httpa_buf){.max = max, .sensitive = 1};
}

void httpa_buf_free(httpa_buf *b)
{
    if (b->base != NULL && b->sensitive)
        httpa_wipe(b->base, b->cap);
    free(b->base);
    b->base = NULL;
    b->len = b->cap = 0;
}

void httpa_buf_reset(httpa_buf *b)
{
    if (b->sensitive)
        httpa_wipe(b->base, b->len);
    b->len = 0;
}

httpa_err httpa_buf_reserve(httpa_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return HTTPA_ERR_TOO_LARGE;
    if (b->cap - b->len >= n)
        return HTTPA_OK;
    size_t want = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *p;
    if (b->sensitive) {
        /* realloc could leave a copy of the secret behind: move it by hand. */
        p = malloc(cap);
        if (p == NULL)
            return HTTPA_ERR_NOMEM;
        if (b->len)
            memcpy(p, b->base, b->len);
        httpa_wipe(b->base, b->cap);
        free(b->base);
    } else {
        p = realloc(b->base, cap);
        if (p == NULL)
            return HTTPA_ERR_NOMEM;
    }
    b->base = p;
    b->cap = cap;
    return HTTPA_OK;
}

httpa_err httpa_buf_extend(httpa_buf *b, size_t n, uint8_t **where)
{
    httpa_err e = httpa_buf_reserve(b, n);
    if (e != HTTPA_OK)
        return e;
    *where = b->base + b->len;
    b->len += n;
    return HTTPA_OK;
}

httpa_err httpa_buf_append(httpa_buf *b, const void *p, size_t n)
{
    uint8_t *w;
    httpa_err e = httpa_buf_extend(b, n, &w);
    if (e == HTTPA_OK && n != 0)
        memcpy(w, p, n);
    return e;
}

httpa_err httpa_buf_append_str(httpa_buf *b, const char *s)
{
    return httpa_buf_append(b, s, strlen(s));
}

httpa_err httpa_buf_append_u8(httpa_buf *b, uint8_t v)
{
    return httpa_buf_append(b, &v, 1);
}

httpa_err httpa_buf_append_u16(httpa_buf *b, uint16_t v)
{
    uint8_t t[2];
    httpa_put_u16(t, v);
    return httpa_buf_append(b, t, sizeof(t));
}

httpa_err httpa_buf_append_u32(httpa_buf *b, uint32_t v)
{
    uint8_t t[4];
    httpa_put_u32(t, v);
    return httpa_buf_append(b, t, sizeof(t));
}

httpa_err httpa_buf_append_u64(httpa_buf *b, uint64_t v)
{
    uint8_t t[8];
    httpa_put_u64(t, v);
    return httpa_buf_append(b, t, sizeof(t));
}

void httpa_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void httpa_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void httpa_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t httpa_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static httpa_err read_be(httpa_reader *r, size_t n, uint64_t *v)
{
    if (n > httpa_reader_left(r))
        return HTTPA_ERR_BAD_REQUEST;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | r->pos[i];
    r->pos += n;
    *v = x;
    return HTTPA_OK;
}

httpa_err httpa_read_u8(httpa_reader *r, uint8_t *v)
{
    uint64_t x = 0;
    httpa_err e = read_be(r, 1, &x);
    if (e == HTTPA_OK)
        *v = (uint8_t)x;
    return e;
}

httpa_err httpa_read_u16(httpa_reader *r, uint16_t *v)
{
    uint64_t x = 0;
    httpa_err e = read_be(r, 2, &x);
    if (e == HTTPA_OK)
        *v = (uint16_t)x;
    return e;
}

httpa_err httpa_read_u32(httpa_reader *r, uint32_t *v)
{
    uint64_t x = 0;
    httpa_err e = read_be(r, 4, &x);
    if (e == HTTPA_OK)
        *v = (uint32_t)x;
    return e;
}

httpa_err httpa_read_u64(httpa_reader *r, uint64_t *v)
{
    return read_be(r, 8, v);
}

httpa_err httpa_read_span(httpa_reader *r, size_t n, httpa_span *out)
{
    if (n > httpa_reader_left(r))
        return HTTPA_ERR_BAD_REQUEST;
    *out = (httpa_span){r->pos, n};
    r->pos += n;
    return HTTPA_OK;
}
