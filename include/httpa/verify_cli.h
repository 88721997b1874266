/* The httpa-verify program as a library function, so that the tests run the
 * same code the program does (programs/httpa-verify.c only calls it). */
#ifndef HTTPA_VERIFY_CLI_H
#define HTTPA_VERIFY_CLI_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_VERIFY_EXIT_ACCEPTED 0
#define HTTPA_VERIFY_EXIT_REJECTED 1 /* verification failed (reason printed) */
#define HTTPA_VERIFY_EXIT_POLICY 2   /* verified, but the policy rejects it */
#define HTTPA_VERIFY_EXIT_USAGE 64   /* EX_USAGE */

/* Run httpa-verify with argv[0..argc-1]; results go to `out`, diagnostics
 * and warnings to `err`. Returns the exit status. */
int httpa_verify_main(int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif
#endif
