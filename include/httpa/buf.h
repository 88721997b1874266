/* Byte spans, bounded growable buffers and bounds-checked readers. */
#ifndef HTTPA_BUF_H
#define HTTPA_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed view of octets; never freed through the span. */
typedef struct httpa_span {
    const uint8_t *base;
    size_t len;
} httpa_span;

#define HTTPA_SPAN(p, n) ((httpa_span){(const uint8_t *)(p), (n)})
#define HTTPA_SPAN_STR(s) ((httpa_span){(const uint8_t *)(s), sizeof(s) - 1})

/* An owned output buffer that grows on the heap up to `max` octets.
 * A buffer marked sensitive is wiped on growth, reset and free. */
typedef struct httpa_buf {
    uint8_t *base;
    size_t len;
    size_t cap;
    size_t max;
    unsigned sensitive : 1;
} httpa_buf;

/* Start empty with a hard maximum; nothing is allocated until the first write. */
void httpa_buf_init(httpa_buf *b, size_t max);

/* Like httpa_buf_init, and wipe the contents whenever memory is released. */
void httpa_buf_init_sensitive(httpa_buf *b, size_t max);

/* Release the memory (wiping it first when sensitive) and return to empty. */
void httpa_buf_free(httpa_buf *b);

/* Forget the contents but keep the memory (wiped when sensitive). */
void httpa_buf_reset(httpa_buf *b);

/* Make room for `n` more octets. HTTPA_ERR_TOO_LARGE past `max`. */
httpa_err httpa_buf_reserve(httpa_buf *b, size_t n) HTTPA_MUST_USE;

httpa_err httpa_buf_append(httpa_buf *b, const void *p, size_t n) HTTPA_MUST_USE;
httpa_err httpa_buf_append_str(httpa_buf *b, const char *s) HTTPA_MUST_USE;
httpa_err httpa_buf_append_u8(httpa_buf *b, uint8_t v) HTTPA_MUST_USE;
httpa_err httpa_buf_append_u16(httpa_buf *b, uint16_t v) HTTPA_MUST_USE;
httpa_err httpa_buf_append_u32(httpa_buf *b, uint32_t v) HTTPA_MUST_USE;
httpa_err httpa_buf_append_u64(httpa_buf *b, uint64_t v) HTTPA_MUST_USE;

/* Append `n` to the buffer and hand back where the octets go. */
httpa_err httpa_buf_extend(httpa_buf *b, size_t n, uint8_t **where) HTTPA_MUST_USE;

static inline httpa_span httpa_buf_span(const httpa_buf *b)
{
    return (httpa_span){b->base, b->len};
}

/* Big-endian encoders into a caller array. */
void httpa_put_u16(uint8_t *p, uint16_t v);
void httpa_put_u32(uint8_t *p, uint32_t v);
void httpa_put_u64(uint8_t *p, uint64_t v);
uint64_t httpa_get_u64(const uint8_t *p);

/* A cursor over input; every read checks "wanted <= remaining" first. */
typedef struct httpa_reader {
    const uint8_t *pos;
    const uint8_t *end;
} httpa_reader;

static inline httpa_reader httpa_reader_of(httpa_span s)
{
    return (httpa_reader){s.base, s.base + s.len};
}

static inline size_t httpa_reader_left(const httpa_reader *r)
{
    return (size_t)(r->end - r->pos);
}

/* Each fails with HTTPA_ERR_BAD_REQUEST on short input and then consumes nothing. */
httpa_err httpa_read_u8(httpa_reader *r, uint8_t *v) HTTPA_MUST_USE;
httpa_err httpa_read_u16(httpa_reader *r, uint16_t *v) HTTPA_MUST_USE;
httpa_err httpa_read_u32(httpa_reader *r, uint32_t *v) HTTPA_MUST_USE;
httpa_err httpa_read_u64(httpa_reader *r, uint64_t *v) HTTPA_MUST_USE;
httpa_err httpa_read_span(httpa_reader *r, size_t n, httpa_span *out) HTTPA_MUST_USE;

/* Wipe memory in a way the compiler cannot remove (OPENSSL_cleanse). */
void httpa_wipe(void *p, size_t n);

/* 1 if the n octets at a and b are equal, in time independent of content. */
int httpa_ct_equal(const void *a, const void *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
