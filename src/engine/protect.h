/* Message protection (profile section 9): the one nonce function, AAD,
 * single AEAD items (Cargo, secrets) and record streams for bodies. */
#ifndef HTTPA_ENGINE_PROTECT_H
#define HTTPA_ENGINE_PROTECT_H

#include <stdbool.h>

#include "suite.h"

#define HTTPA_ITEM_BODY 0
#define HTTPA_ITEM_CARGO 1
#define HTTPA_ITEM_SECRET0 2
#define HTTPA_SEQ_LIMIT (UINT64_C(1) << 56)
#define HTTPA_RS_MIN 1024
#define HTTPA_RS_MAX 65536
#define HTTPA_RS_DEFAULT 16384

/* nonce = iv XOR (u32(index) || u64((seq << 8) | item)). The only place a
 * nonce is made: no implicit counters anywhere (profile 9.1). */
void httpa_nonce(const uint8_t iv[HTTPA_IV_LEN], uint64_t seq, uint8_t item, uint32_t index,
                 uint8_t out[HTTPA_IV_LEN]);

/* aad = u64(seq) || u8(item) || u32(index) || u8(is_final) || ahl_hash;
 * writes 14 + hlen octets and returns that length. */
size_t httpa_aad(uint64_t seq, uint8_t item, uint32_t index, bool is_final,
                 const uint8_t *ahl_hash, size_t hlen, uint8_t *out);

/* Seal or open one item (index 0, final) under `t`. Output appended to `out`.
 * Open fails with HTTPA_ERR_BAD_REQUEST and appends nothing. */
httpa_err httpa_item_seal(httpa_traffic *t, uint64_t seq, uint8_t item, const uint8_t *ahl_hash,
                          httpa_span pt, httpa_buf *out) HTTPA_MUST_USE;
httpa_err httpa_item_open(httpa_traffic *t, uint64_t seq, uint8_t item, const uint8_t *ahl_hash,
                          httpa_span ct, httpa_buf *out) HTTPA_MUST_USE;

/* A body record stream in one direction (profile 9.2). Memory is bounded by
 * the record size: at most RS + 16 octets are buffered. */
typedef struct httpa_stream {
    httpa_traffic *t;       /* borrowed */
    uint64_t seq;
    uint8_t ahl_hash[HTTPA_MAX_HASH];
    uint32_t rs;
    uint32_t index;
    uint64_t total;         /* plaintext octets so far */
    uint64_t declared;      /* expected plaintext length, or UINT64_MAX when streamed */
    uint64_t max_total;     /* receiver's limit */
    bool done;              /* final record sealed or opened */
    bool failed;            /* sticky: a failed stream never yields more data */
    httpa_buf pending;      /* sealer: plaintext; opener: wire octets; sensitive */
} httpa_stream;

/* Start a stream; `declared` is UINT64_MAX when the length is not declared.
 * HTTPA_ERR_TOO_LARGE when declared > max_total; HTTPA_ERR_INVALID_ARG for an
 * RS outside 1024..65536 or seq >= 2^56. A stream that failed to start is
 * failed (safe to free). */
httpa_err httpa_stream_init(httpa_stream *st, httpa_traffic *t, uint64_t seq,
                            const uint8_t *ahl_hash, uint32_t rs, uint64_t declared,
                            uint64_t max_total) HTTPA_MUST_USE;
void httpa_stream_free(httpa_stream *st);

/* Sealer: feed plaintext; appends every complete record to `wire`. With
 * `fin`, also appends the final record (possibly empty) and ends the stream.
 * HTTPA_ERR_BAD_REQUEST if the total differs from a declared length at fin. */
httpa_err httpa_stream_seal(httpa_stream *st, httpa_span plain, bool fin,
                            httpa_buf *wire) HTTPA_MUST_USE;

/* Opener: feed wire octets; appends the plaintext of each verified record to
 * `plain` (never unverified octets). With `fin` (the body ended), the rest
 * must form the final record. Truncation, reordering, extension, a tag
 * failure, a length other than the declared one: HTTPA_ERR_BAD_REQUEST, and
 * the stream fails for good. HTTPA_ERR_TOO_LARGE past max_total. With a
 * declared length, octets beyond its wire length fail at once. On any error
 * nothing of this call is appended to `plain` (records released by earlier
 * calls stay); any call after the end or a failure: HTTPA_ERR_BAD_STATE. */
httpa_err httpa_stream_open(httpa_stream *st, httpa_span wire, bool fin,
                            httpa_buf *plain) HTTPA_MUST_USE;

/* Wire length of a body of `len` plaintext octets: n(RS+16) + len%RS + 16. */
uint64_t httpa_stream_wire_len(uint64_t len, uint32_t rs);

#endif
