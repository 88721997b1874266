/* Message protection steps shared by the two ends of AtSP and TrT
 * (txn_server.c, txn_client.c): moving fields into and out of the Cargo
 * (profile 9.3, 9.4), sealing and opening items, the outer framing, and the
 * AHL hashes the AAD and the MACs cover. Engine-internal. */
#ifndef HTTPA_ENGINE_TXN_H
#define HTTPA_ENGINE_TXN_H

#include "httpa/server.h"
#include "cargo.h"
#include "fields.h"
#include "protect.h"

#define HTTPA_SEALED_TARGET_METHOD "POST"
#define HTTPA_SEALED_TARGET "/.well-known/httpa"
#define HTTPA_MAX_SECRETS 254

/* The secrets of one message, opened (owned copies, values wiped on free). */
typedef struct httpa_secret_set {
    size_t n;
    char **names;
    httpa_span *spans;  /* views of `values`, for the public getters */
    httpa_buf *values;  /* sensitive */
} httpa_secret_set;

void httpa__secrets_free(httpa_secret_set *s);

/* A transaction's own keyed copy of a base's traffic keys (the base's copy
 * has no AEAD context). Wipe with httpa_traffic_wipe. */
httpa_err httpa__txn_keys(httpa_traffic *dst, const httpa_traffic *src) HTTPA_MUST_USE;

/* Hash(AHL(m, set)) from fields already parsed. */
httpa_err httpa__ahl_hash(const httpa_msg *m, const httpa_fields *f, httpa_ahl_set set,
                          const httpa_suite *s, uint8_t *out) HTTPA_MUST_USE;

/* ---- sending ---- */

/* What a sender took out of the outer header section. */
typedef struct httpa_outgoing {
    httpa_msg sealed;   /* the sealed lines, names lower-cased, in message order */
    httpa_buf ctype;    /* combined Content-Type (sensitive) */
    httpa_buf cenc;     /* combined Content-Encoding (sensitive) */
    bool had_length;    /* the application's message had Content-Length */
    httpa_buf plain;    /* the CargoPlain (sensitive) */
} httpa_outgoing;

void httpa__outgoing_free(httpa_outgoing *o);

/* Take out of `m`, in message order, every line named in `always` or
 * o->seal (both NULL-terminated; o->seal may be NULL), and the
 * Content-Type and Content-Encoding; drop Content-Length, Transfer-Encoding
 * and Cache-Control (the tail replaces them). Encode the CargoPlain with the
 * body description of `o` and record size `rs`, and with m's method and
 * origin-form target when `target`. HTTPA_ERR_INVALID_ARG for a name that
 * may not be sealed or a value the Cargo cannot carry. `out` is always safe
 * to free afterwards. */
httpa_err httpa__outgoing_build(httpa_msg *m, const char *const *always, const httpa_seal_opts *o,
                                uint32_t rs, bool target, const httpa_limits *lim,
                                httpa_outgoing *out) HTTPA_MUST_USE;

/* Seal the CargoPlain (item 1) and the secrets (items 2 + i) under `t` and
 * append Attest-Cargo and, when n > 0, Attest-Secrets to m, recording both
 * in `f` (m's fields) as own fields. */
httpa_err httpa__seal_items(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                            httpa_span cargo_plain, const char *const *names,
                            const httpa_span *values, size_t n, httpa_msg *m,
                            httpa_fields *f) HTTPA_MUST_USE;

/* Append an Attest-* line the engine serialized and record it in `f`, m's
 * fields, as an own field (fields.h): the AHLs of m then need no parse. */
httpa_err httpa__add_own(httpa_msg *m, httpa_fields *f, httpa_fid id, const char *name,
                         const httpa_buf *v) HTTPA_MUST_USE;

/* Append `name: :base64(u64(seq) || mac):` (Attest-Ticket, Attest-Binder). */
httpa_err httpa__add_auth(httpa_msg *m, const char *name, uint64_t seq, const uint8_t *mac,
                          size_t hlen) HTTPA_MUST_USE;

/* Append the outer tail: Content-Type: application/octet-stream when there
 * is a body, Cache-Control: no-store, no-transform, then the framing:
 * Content-Length = wire length for a declared body, Transfer-Encoding:
 * chunked for a streamed one (an HTTP/2 or HTTP/3 adapter drops it), and
 * Content-Length: 0 without a body when `zero_length`. */
httpa_err httpa__add_tail(httpa_msg *m, const httpa_seal_opts *o, uint32_t rs,
                          bool zero_length) HTTPA_MUST_USE;

/* Put the lines in their sending order. On entry [0, app) are the
 * application's lines, [app, eng) the engine's Attest-* lines, the rest the
 * tail. On return: the leading application lines (Host for a request, the
 * application's Attest-* lines such as Attest-Error for a response), the
 * engine's Attest-* lines sorted by name, the other application lines in
 * their order, the tail. */
httpa_err httpa__arrange(httpa_msg *m, size_t app, size_t eng) HTTPA_MUST_USE;

/* ---- receiving ---- */

/* Open and strictly decode Attest-Cargo. HTTPA_ERR_TOO_LARGE for a Cargo
 * above lim->max_cargo or a declared body above lim->max_body,
 * HTTPA_ERR_BAD_REQUEST otherwise. `plain` (initialized by the caller) holds
 * the octets `c` points into. */
httpa_err httpa__cargo_open(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                            const httpa_fields *f, const httpa_limits *lim, httpa_buf *plain,
                            httpa_cargo *c) HTTPA_MUST_USE;

/* Open the members of Attest-Secrets (items 2 + i): HTTPA_ERR_BAD_REQUEST,
 * or HTTPA_ERR_TOO_LARGE for a secret above lim->max_secret. */
httpa_err httpa__secrets_open(httpa_traffic *t, uint64_t seq, const uint8_t *core_hash,
                              const httpa_fields *f, const httpa_limits *lim,
                              httpa_secret_set *out) HTTPA_MUST_USE;

/* Profile 9.4 and 9.2: each sealed name may be sealed and is not also an
 * outer field; there is no outer Content-Encoding. HTTPA_ERR_BAD_REQUEST. */
httpa_err httpa__check_sealed(const httpa_msg *m, const httpa_cargo *c) HTTPA_MUST_USE;

/* A Cargo without BODY: the message must have no content (9.2), so an outer
 * Content-Length other than 0 or a Transfer-Encoding is HTTPA_ERR_BAD_REQUEST. */
httpa_err httpa__check_no_content(const httpa_msg *m, const httpa_cargo *c) HTTPA_MUST_USE;

/* Restoring steps 2 to 5 of profile 9.4 (step 1, the sealed target, is the
 * server's): remove every Attest-* line when `all_attest`, else the ticket,
 * binder, Cargo and secrets; remove the outer Cache-Control, Content-Type,
 * Content-Encoding, Content-Length, Transfer-Encoding and every line with a
 * sealed name; then add Content-Type, Content-Encoding and Content-Length
 * from the Cargo and the sealed lines, all flagged `sealed`. */
httpa_err httpa__restore(httpa_msg *m, const httpa_cargo *c, bool all_attest) HTTPA_MUST_USE;

/* Start the opener of a body the Cargo describes (no-op without BODY). */
httpa_err httpa__body_start(httpa_stream *st, bool *on, httpa_traffic *t, uint64_t seq,
                            const uint8_t *core_hash, const httpa_cargo *c,
                            uint64_t max) HTTPA_MUST_USE;

/* Feed body octets to an opener; without a body (on == false) any content
 * is HTTPA_ERR_BAD_REQUEST. */
httpa_err httpa__body_feed(httpa_stream *st, bool on, httpa_span wire, bool fin,
                           httpa_buf *plain) HTTPA_MUST_USE;

/* Whether a lower-case name is in a NULL-terminated list (case-insensitive). */
bool httpa__name_in(const char *name, size_t len, const char *const *list);

/* Map any error to one with an Attest-Error token (local ones to internal). */
httpa_err httpa__wire_err(httpa_err e);

#endif
