/* CargoPlain (profile 9.3): encode, strict decode, and the sealing rules of 9.4. */
#ifndef HTTPA_ENGINE_CARGO_H
#define HTTPA_ENGINE_CARGO_H

#include <stdbool.h>

#include "httpa/buf.h"
#include "httpa/limits.h"

#define HTTPA_CARGO_BODY 0x01
#define HTTPA_CARGO_STREAMED 0x02
#define HTTPA_CARGO_TARGET 0x04
#define HTTPA_CARGO_MAX_HEADERS 256

typedef struct httpa_cargo_header {
    httpa_span name;  /* lower-case token, 1..256 */
    httpa_span value; /* 0..16384, visible ASCII, SP, HTAB, no edge whitespace */
} httpa_cargo_header;

/* Decoded spans point into the plaintext passed to httpa_cargo_decode. */
typedef struct httpa_cargo {
    uint8_t flags;
    uint32_t record_size;
    uint64_t content_length;
    httpa_span content_type;
    httpa_span content_encoding;
    httpa_span method; /* TARGET only */
    httpa_span target; /* TARGET only */
    httpa_cargo_header *headers;
    size_t nheaders;
} httpa_cargo;

/* Append the CargoPlain encoding; HTTPA_ERR_INVALID_ARG if `c` breaks a rule. */
httpa_err httpa_cargo_encode(const httpa_cargo *c, httpa_buf *out) HTTPA_MUST_USE;

/* Strict decode: unknown flags, bad lengths, trailing octets, CR/LF/NUL,
 * invalid names or values: HTTPA_ERR_BAD_REQUEST. Allocates c->headers. */
httpa_err httpa_cargo_decode(httpa_span plain, httpa_cargo *c) HTTPA_MUST_USE;
void httpa_cargo_clear(httpa_cargo *c);

/* Whether a header name (lower-case or not) may be sealed (profile 9.4);
 * `connection` is the message's Connection field value (may be empty). */
bool httpa_cargo_may_seal(httpa_span name, httpa_span connection);

#endif
