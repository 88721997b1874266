/* A tiny HTTPA/2 server for tests: the I/O-free server engine (server.h)
 * over plain TCP on 127.0.0.1 with minimal HTTP/1.1 (Content-Length and
 * chunked bodies, keep-alive), one thread per connection, and a simulated
 * TEE. Test-only: never linked into a program.
 *
 * Routes of its application (on the restored request):
 *   /hello          200 "hello <METHOD> <target>", sealed set-cookie, and
 *                   x-auth: sealed|clear|none (how authorization arrived)
 *   /echo           the request body back (at most 1 MiB)
 *   /upload         consumes the body, answers "len=<n> bad=<octets not
 *                   matching mini_pattern>"
 *   /download/<n>   n octets of mini_pattern, streamed (chunked); with
 *                   "?declared" the length is declared instead
 *   anything else   404 */
#ifndef HTTPA_TEST_MINI_SERVER_H
#define HTTPA_TEST_MINI_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/err.h"

typedef struct mini_server mini_server;

typedef struct mini_server_opts {
    uint32_t expires;   /* Attest-Expires of new bases; 0: 3600 */
    /* Optional stapling (passport model): called with the raw sim evidence
     * of each new attested key; a token it appends to `token` is offered
     * next to the raw entry as a format=eat entry. An error starts the
     * engine without it. */
    httpa_err (*staple)(void *arg, httpa_span raw, httpa_buf *token);
    void *staple_arg;
} mini_server_opts;

typedef struct mini_server_stats {
    unsigned preflights;
    unsigned handshakes;   /* AtHS answered 200 */
    unsigned provisions;   /* AtSP whose secrets the server received */
    unsigned trusted;      /* TrT whose ticket verified */
    unsigned refused;      /* AtSP/TrT answered with an error by the engine */
    unsigned connections;
    char events[512];      /* in order: P preflight, H handshake, S secrets, T TrT, R refused */
    char last_auth[8];     /* "sealed", "clear" or "none": authorization of the last TrT */
} mini_server_stats;

/* The octet at offset i of the test pattern. */
static inline uint8_t mini_pattern(uint64_t i)
{
    return (uint8_t)(i ^ (i >> 8) ^ ((i >> 16) * 7u));
}

/* Start on an ephemeral port; NULL on failure (printed). opts may be NULL. */
mini_server *mini_server_start(const mini_server_opts *opts);
void mini_server_stop(mini_server *s);
unsigned short mini_server_port(const mini_server *s);
/* The simulated TEE's attestation public key (32 octets). */
const uint8_t *mini_server_sim_key(const mini_server *s);

/* Replace the engine: every Attest Base becomes unknown (503 unknown_base). */
void mini_server_forget(mini_server *s);
/* Flip one octet of Attest-Binder in the next `n` TrT responses. */
void mini_server_tamper(mini_server *s, unsigned n);
/* Answer the next `n` TrTs, after their body, with the authenticated error
 * `err` (httpa_server_txn_error: Attest-Error, binder, problem+json). */
void mini_server_refuse(mini_server *s, unsigned n, httpa_err err);
/* Leave out the final record of the next `n` /download response bodies. */
void mini_server_truncate(mini_server *s, unsigned n);

void mini_server_stats_get(mini_server *s, mini_server_stats *out);
/* The value of the last provisioned secret `name` into out (NUL-terminated);
 * false when no such secret arrived. */
bool mini_server_secret(mini_server *s, const char *name, char *out, size_t cap);

#endif
