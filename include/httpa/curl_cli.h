/* The httpa command (a curl-like HTTPA/2 client) as a library function, so
 * that tests run exactly the code of programs/httpa.c. */
#ifndef HTTPA_CURL_CLI_H
#define HTTPA_CURL_CLI_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses (documented in --help and docs/CLIENT.md; never renumbered). */
#define HTTPA_CLI_EXIT_OK 0
#define HTTPA_CLI_EXIT_USAGE 1        /* bad option, unreadable input, unwritable output */
#define HTTPA_CLI_EXIT_NETWORK 2      /* connect, TLS, transfer, non-HTTPA intermediary */
#define HTTPA_CLI_EXIT_ATTESTATION 3  /* bad_quote: evidence, signature, attested key */
#define HTTPA_CLI_EXIT_POLICY 4       /* policy_violation, local policy rejection */
#define HTTPA_CLI_EXIT_PROTOCOL 5     /* bad_ticket, bad_request, replay, tampering, ... */
#define HTTPA_CLI_EXIT_HTTP 6         /* --fail and an authenticated status >= 400 */

/* Run `httpa argv[1..]`: the response body (or the --json summary) goes to
 * `out`, verbose lines, warnings and errors to `err`. The caller must have
 * called curl_global_init(). Returns the exit status. */
int httpa_curl_main(int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif
#endif
