/* Target: httpa_stream_open */
/* Input: u8 mode, u16 RS selector, u8 chunking seed, u16 declared length,
 * then the wire octets. mode bit 0: a per-run random key (no plaintext may
 * ever come out) instead of the fixed key; bit 1: declared length instead of
 * streamed; bit 2: fin in a separate call. With the fixed key every octet of
 * plaintext released must re-seal to exactly the wire octets consumed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/protect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 6
#define SEQ 3

static const uint8_t fixed_secret[32] = {
    0x66, 0x75, 0x7a, 0x7a, 0x20, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x20, 0x6f, 0x70, 0x65, 0x6e,
    0x20, 0x66, 0x69, 0x78, 0x65, 0x64, 0x20, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21, 0x21, 0x21,
};
static const uint8_t ahl_hash[32] = {0x68, 0x74, 0x74, 0x70, 0x61, 0x32};

typedef struct input {
    bool random_key, declared, fin_alone;
    uint32_t rs;
    uint32_t rng;
    uint64_t declared_len;
    httpa_span wire;
} input;

static input parse(const uint8_t *d, size_t n)
{
    input in;
    in.random_key = d[0] & 1;
    in.declared = d[0] & 2;
    in.fin_alone = d[0] & 4;
    /* mostly small record sizes, so that inputs span several records */
    uint32_t sel = (uint32_t)d[1] << 8 | d[2];
    in.rs = HTTPA_RS_MIN + (sel & 0x8000 ? sel % (HTTPA_RS_MAX - HTTPA_RS_MIN + 1) : sel % 64);
    in.rng = d[3] | 0x100u;
    in.declared_len = (uint64_t)d[4] << 8 | d[5];
    in.wire = HTTPA_SPAN(d + HDR, n - HDR);
    return in;
}

static size_t next_chunk(input *in, size_t left)
{
    in->rng ^= in->rng << 13;
    in->rng ^= in->rng >> 17;
    in->rng ^= in->rng << 5;
    size_t c;
    switch (in->rng % 4) {
    case 0: c = left; break;
    case 1: c = 1 + in->rng % 17; break;
    default: c = in->rng % (2 * ((size_t)in->rs + 16)); break;
    }
    return c < left ? c : left;
}

/* Re-seal the released plaintext: it must reproduce the consumed wire. */
static void check_authentic(httpa_traffic *t, const input *in, const httpa_buf *plain, bool done)
{
    httpa_stream st;
    httpa_buf wire;
    httpa_buf_init(&wire, SIZE_MAX);
    if (httpa_stream_init(&st, t, SEQ, ahl_hash, in->rs, UINT64_MAX, UINT64_MAX) != HTTPA_OK)
        abort();
    if (!done && plain->len % in->rs != 0)
        abort();
    if (httpa_stream_seal(&st, httpa_buf_span(plain), done, &wire) != HTTPA_OK)
        abort();
    if (wire.len > in->wire.len || (done && wire.len != in->wire.len))
        abort();
    if (wire.len != 0 && memcmp(wire.base, in->wire.base, wire.len) != 0)
        abort();
    httpa_stream_free(&st);
    httpa_buf_free(&wire);
}

static bool run(httpa_stream *st, input *in, httpa_buf *plain)
{
    size_t off = 0;
    httpa_err e = HTTPA_OK;
    while (e == HTTPA_OK && off < in->wire.len) {
        size_t c = next_chunk(in, in->wire.len - off);
        bool last = off + c == in->wire.len;
        e = httpa_stream_open(st, HTTPA_SPAN(in->wire.base + off, c), last && !in->fin_alone,
                              plain);
        off += c;
    }
    if (e == HTTPA_OK && !st->done)
        e = httpa_stream_open(st, HTTPA_SPAN(NULL, 0), true, plain);
    if ((e == HTTPA_OK) != st->done || (e != HTTPA_OK) != st->failed)
        abort();
    if (httpa_stream_open(st, HTTPA_SPAN(NULL, 0), true, plain) != HTTPA_ERR_BAD_STATE)
        abort(); /* finished or failed for good */
    return e == HTTPA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR)
        return 0;
    input in = parse(data, size);
    uint8_t secret[32];
    memcpy(secret, fixed_secret, sizeof(secret));
    if (in.random_key && httpa_random(secret, sizeof(secret)) != HTTPA_OK)
        abort();
    httpa_traffic t;
    if (httpa_traffic_init(&t, httpa_suites_preferred[0], secret) != HTTPA_OK)
        abort();
    httpa_stream st;
    httpa_buf plain;
    httpa_buf_init_sensitive(&plain, SIZE_MAX);
    uint64_t declared = in.declared ? in.declared_len : UINT64_MAX;
    if (httpa_stream_init(&st, &t, SEQ, ahl_hash, in.rs, declared, UINT64_MAX) != HTTPA_OK)
        abort();
    bool ok = run(&st, &in, &plain);
    if (in.random_key && plain.len != 0)
        abort(); /* nobody can forge a record under an unknown key */
    if (ok && in.declared && plain.len != in.declared_len)
        abort();
    check_authentic(&t, &in, &plain, ok);
    httpa_stream_free(&st);
    httpa_buf_free(&plain);
    httpa_traffic_wipe(&t);
    httpa_wipe(secret, sizeof(secret));
    return 0;
}
