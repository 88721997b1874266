/* The client side of HTTPA/2, free of I/O: build the AtHS request, verify
 * the response and the evidence, then protect requests and open responses on
 * the resulting Attest Base. An httpa_client_base may be used by many threads
 * at once (sequence numbers are assigned atomically). */
#ifndef HTTPA_CLIENT_H
#define HTTPA_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "httpa/attest.h"
#include "httpa/crypto.h"
#include "httpa/limits.h"
#include "httpa/msg.h"
#include "httpa/server.h" /* httpa_seal_opts */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct httpa_client_hs httpa_client_hs;
typedef struct httpa_client_base httpa_client_base;
typedef struct httpa_client_txn httpa_client_txn;

typedef struct httpa_client_config {
    httpa_limits limits;          /* httpa_limits_default() if zeroed */
    httpa_verifier *verifier;     /* REQUIRED: there is no default verifier */
    bool allow_sim;               /* accept `sim` evidence (development only) */
    bool fresh;                   /* require fresh mode */
    bool transport_field;         /* send Attest-Transport: header */
    const char *target;           /* AtHS target; default "/.well-known/httpa" */
    const char *const *suites;    /* offer, NULL-terminated; default all three */
    const char *const *groups;    /* offer; default x25519, secp256r1 */
    const char *const *share_groups; /* groups with a key share; default x25519 */
    const char *const *sig_algs;  /* Attest-Signatures; NULL: field omitted */
    httpa_attester *attester;     /* mutual mode: client evidence; NULL: one-way */
    httpa_rng *rng;               /* NULL: OpenSSL CSPRNG */
    /* Attest-Policies: false sends "direct" plus the members that are true
     * ("direct, fresh"); true sends every member with its value
     * ("direct, allow-untrusted=?0, fresh=?0"). */
    bool policies_explicit;
    const char *base_creation;    /* Attest-Base-Creation token; NULL: omitted (shared) */
} httpa_client_config;

/* Build the AtHS request into `req` (ATTEST, target, Attest-* fields). */
httpa_err httpa_client_hs_start(const httpa_client_config *cfg, int64_t now, httpa_msg *req,
                                httpa_client_hs **out) HTTPA_MUST_USE;

/* Verify the AtHS response (profile 6.2.4) and create the Attest Base.
 * `body` is the response content. Returns the profile's error token codes:
 * negotiation_failed, bad_request, bad_quote, bad_ticket, or the server's
 * Attest-Error for a non-200 response (HTTPA_ERR_NETWORK when a non-200
 * response has none). The hs object may then be freed. An hs answers one
 * response: afterwards, whatever the result, its private key shares are
 * wiped and a further call returns HTTPA_ERR_BAD_STATE. */
httpa_err httpa_client_hs_finish(httpa_client_hs *hs, const httpa_msg *resp, httpa_span body,
                                 int64_t now, httpa_client_base **out) HTTPA_MUST_USE;
void httpa_client_hs_free(httpa_client_hs *hs);

/* The AtHS response's secrets for the client, and the appraisal of the
 * server's evidence, available after finish. */
size_t httpa_client_base_secrets(const httpa_client_base *b, const char *const **names,
                                 const httpa_span **values);
const httpa_appraisal *httpa_client_base_appraisal(const httpa_client_base *b);
const char *httpa_client_base_id(const httpa_client_base *b);
const char *httpa_client_base_suite(const httpa_client_base *b);
bool httpa_client_base_expired(const httpa_client_base *b, int64_t now);

/* Reference counting: a base stays valid while a transaction uses it. */
void httpa_client_base_release(httpa_client_base *b);

/* Protect a request in place (AtSP when it is ATTEST with secrets, else TrT):
 * authorization and cookie are always sealed, plus opts->seal. */
httpa_err httpa_client_protect(httpa_client_base *b, httpa_msg *req, const httpa_seal_opts *opts,
                               httpa_client_txn **out) HTTPA_MUST_USE;

/* Seal request body plaintext into records; fin on the last call. */
httpa_err httpa_client_txn_seal(httpa_client_txn *t, httpa_span plain, bool fin,
                                httpa_buf *wire) HTTPA_MUST_USE;

/* Verify the response (profile 12.2) and restore it in place. A response
 * without a binder returns its Attest-Error code (or HTTPA_ERR_BAD_TICKET)
 * and must not be treated as from the TService. */
httpa_err httpa_client_txn_response(httpa_client_txn *t, httpa_msg *resp) HTTPA_MUST_USE;

/* Open response body octets into verified plaintext. */
httpa_err httpa_client_txn_body(httpa_client_txn *t, httpa_span wire, bool fin,
                                httpa_buf *plain) HTTPA_MUST_USE;

/* AtSP response secrets, after httpa_client_txn_response. */
size_t httpa_client_txn_secrets(const httpa_client_txn *t, const char *const **names,
                                const httpa_span **values);

void httpa_client_txn_free(httpa_client_txn *t);

#ifdef __cplusplus
}
#endif
#endif
