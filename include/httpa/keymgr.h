/* The attested-key manager (profile 7.2): creates handshake signing keys
 * inside the TEE, obtains evidence binding each key (report_data =
 * httpa_attested_key_report_data(alg, pub, not_after)) and installs key and
 * evidence in an httpa_server, then rotates before the key expires.
 *
 * Evidence comes from a background thread, never from the caller's or a
 * request's thread: a quote takes tens of milliseconds on TDX and the host
 * serializes them. The server keeps the previous key beside the new one
 * (httpa_server_add_key keeps up to four and replaces the one that expires
 * first), so a handshake that picked the previous key still completes.
 *
 * Time comes from a clock callback, so tests drive rotation; the thread
 * re-reads it every poll interval and whenever httpa_keymgr_kick is called.
 * Nothing here logs; keys never leave the process (the server owns them). */
#ifndef HTTPA_KEYMGR_H
#define HTTPA_KEYMGR_H

#include <stdbool.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/buf.h"
#include "httpa/crypto.h"
#include "httpa/err.h"
#include "httpa/server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_KEYMGR_DEFAULT_LIFETIME 86400   /* profile 7.2: RECOMMENDED */
#define HTTPA_KEYMGR_MAX_LIFETIME 604800      /* profile 7.2: at most */
#define HTTPA_KEYMGR_MIN_HEADROOM 600         /* a key is replaced this long before not_after at the latest */

/* Unix seconds. */
typedef int64_t (*httpa_clock_fn)(void *arg);

/* Something happened (for logs); `err` is HTTPA_OK for a new key. */
typedef struct httpa_keymgr_event {
    httpa_err err;
    uint64_t generation;  /* keys installed so far */
    int64_t not_after;    /* of the new key */
    const char *tee;      /* the attester's token */
    bool stapled;         /* the new key carries a stapled token (config.staple) */
} httpa_keymgr_event;

/* Optional stapling (profile 7.7, passport model): called on the manager's
 * thread with a new key's raw evidence and its report_data. Append a token
 * (a TA's EAT) to `token` and return HTTPA_OK to install the key with two
 * entries, {tee, "raw", raw} then {tee, "eat", token}; any error installs
 * the key with the raw entry alone and brings the next key forward to
 * retry_interval (the callback logs why). */
typedef httpa_err (*httpa_keymgr_staple_fn)(void *arg, const char *tee, httpa_span raw,
                                            const uint8_t report_data[HTTPA_REPORT_DATA_LEN],
                                            httpa_buf *token);

typedef struct httpa_keymgr_config {
    httpa_server *server;       /* required; must outlive the manager */
    httpa_attester *attester;   /* required; called only from the manager's thread */
    httpa_sig_alg alg;          /* HTTPA_ED25519 (zero) or HTTPA_ECDSA_P256_SHA256 */
    int64_t lifetime;           /* not_after - creation; 0: 86400; at most 604800 */
    /* A new key every `rotate_interval` seconds; 0: lifetime / 2. It must
     * leave HTTPA_KEYMGR_MIN_HEADROOM seconds before not_after (the engine
     * stops selecting a key 300 s before it expires). */
    int64_t rotate_interval;
    int64_t retry_interval;     /* after a failed attempt; 0: 30 s */
    httpa_clock_fn clock;       /* NULL: time(NULL) */
    void *clock_arg;
    unsigned poll_ms;           /* how often the clock is re-read; 0: 1000 */
    void (*on_event)(void *arg, const httpa_keymgr_event *ev); /* optional, on the thread */
    void *event_arg;
    httpa_keymgr_staple_fn staple; /* optional: see httpa_keymgr_staple_fn */
    void *staple_arg;
} httpa_keymgr_config;

typedef struct httpa_keymgr httpa_keymgr;

/* What the manager has installed. */
typedef struct httpa_keymgr_status {
    uint64_t generation;        /* keys installed */
    unsigned failures;          /* failed attempts since the last success */
    httpa_err last_error;       /* of the most recent attempt */
    int64_t next_attempt;       /* clock time of the next key */
    struct {
        bool set;
        uint8_t pub[HTTPA_SIG_MAX_PUB];
        size_t pub_len;
        int64_t not_after;
    } current, previous;
} httpa_keymgr_status;

/* Validate the configuration and start the thread; the first key is made at
 * once, on that thread: this returns without waiting for it (use
 * httpa_keymgr_wait). HTTPA_ERR_INVALID_ARG for a bad configuration. */
httpa_err httpa_keymgr_start(const httpa_keymgr_config *cfg, httpa_keymgr **out) HTTPA_MUST_USE;

/* Block until `generation` keys have been installed (HTTPA_OK), or
 * timeout_ms passed (HTTPA_ERR_BAD_STATE; the last error is in the status). */
httpa_err httpa_keymgr_wait(httpa_keymgr *m, uint64_t generation, unsigned timeout_ms) HTTPA_MUST_USE;

/* Re-read the clock now (after a test moved it, or on SIGHUP). */
void httpa_keymgr_kick(httpa_keymgr *m);

void httpa_keymgr_get_status(httpa_keymgr *m, httpa_keymgr_status *out);

/* Stop the thread (an attempt in progress finishes first) and free. The
 * keys stay installed in the server. */
void httpa_keymgr_stop(httpa_keymgr *m);

#ifdef __cplusplus
}
#endif
#endif
