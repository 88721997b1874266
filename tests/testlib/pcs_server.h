/* TESTS ONLY: a tiny single-threaded HTTP/1.1 server on 127.0.0.1 that
 * serves the sample collateral of shared/vectors/dcap in the shape of the
 * Intel PCS / PCCS v4 API (DER CRLs, {"tcbInfo":..,"signature":..} bodies,
 * URL-encoded issuer chains in the response headers). One connection at a
 * time, "Connection: close"; it runs on its own thread until stopped. */
#ifndef HTTPA_TESTLIB_PCS_SERVER_H
#define HTTPA_TESTLIB_PCS_SERVER_H

#include <stdbool.h>

typedef struct tl_pcs_opts {
    bool v3_tcb_header;     /* SGX-TCB-Info-Issuer-Chain instead of TCB-Info-Issuer-Chain */
    bool root_crl_hex;      /* the root CA CRL as hex text (as PCCS serves it) */
    int status;             /* non-zero: every response has this status and no body */
    bool bad_chain;         /* an issuer chain with a broken %-escape */
    bool huge_body;         /* the TCB info body is 2 MiB of spaces */
    bool not_json;          /* the TCB info body is not JSON */
} tl_pcs_opts;

typedef struct tl_pcs_server tl_pcs_server;

/* Start on an ephemeral port; fails the test on error. opts may be NULL. */
tl_pcs_server *tl_pcs_server_start(const tl_pcs_opts *opts);
int tl_pcs_server_port(const tl_pcs_server *s);
/* "http://127.0.0.1:PORT" (static storage per server). */
const char *tl_pcs_server_url(const tl_pcs_server *s);
/* Requests answered so far. */
unsigned tl_pcs_server_requests(tl_pcs_server *s);
void tl_pcs_server_stop(tl_pcs_server *s);

#endif
