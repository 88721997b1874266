/* The httpa command, internal: options (cli_opts.c), verification set-up
 * and the request (cli.c), output and the JSON summary (cli_out.c). */
#ifndef HTTPA_IO_CURL_CLI_H
#define HTTPA_IO_CURL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "httpa/curl.h"
#include "httpa/curl_cli.h"
#include "httpa/dcap.h"
#include "httpa/policy.h"
#include "httpa/sim.h"

#define CLI_MAX_HEADERS 64
#define CLI_MAX_SEAL 32
#define CLI_MAX_SECRETS 16
#define CLI_MAX_COLLATERAL 8
#define CLI_SECRET_MAX 8192             /* profile 9.5 */
#define CLI_JSON_BODY_MAX (16u << 20)   /* body embedded in --json */

typedef struct cli_opts {
    const char *url, *method, *output, *policy, *sim_key, *cacert, *body_file;
    const char *ta_url, *ta_key;        /* Trusted Authority: background check, token keys */
    httpa_buf data;                     /* -d / --data-binary literals, joined by '&' */
    bool have_data;
    const char *headers[CLI_MAX_HEADERS + 2];
    size_t nheaders;
    const char *seal[CLI_MAX_SEAL + 1];
    size_t nseal;
    const char *secret_args[CLI_MAX_SECRETS];
    size_t nsecrets;
    const char *collateral[CLI_MAX_COLLATERAL];
    size_t ncollateral;
    bool verbose, hide_target, allow_sim, json, http2, http2_prior, http1, insecure;
    bool preflight, fresh, fail, no_buffer, help, version;
    long connect_timeout_ms, max_time_ms;
} cli_opts;

/* Parse argv into o (initialized here). Returns false with a message in
 * msg on a usage error. */
bool cli_parse(cli_opts *o, int argc, char **argv, char *msg, size_t n);
void cli_opts_free(cli_opts *o);
void cli_help(FILE *out);

/* Where the body goes: a temporary file next to -o FILE, a spool file for
 * standard output, or straight through with --no-buffer. Nothing reaches
 * the destination unless the request succeeded. */
typedef struct cli_sink {
    FILE *f;
    FILE *out;
    char *tmp;                          /* temporary path, renamed onto -o FILE */
    const char *path;
    bool spool;                         /* f is a spool file for `out` */
    bool failed;
    char head[1024];                    /* the body's first octets (an error's problem) */
    size_t head_len;
} cli_sink;

bool cli_sink_open(cli_sink *s, const cli_opts *o, FILE *out, FILE *err);
httpa_err cli_sink_write(void *arg, const uint8_t *p, size_t n);
/* Commit (ok) or discard the body. Returns false when it cannot be written. */
bool cli_sink_close(cli_sink *s, bool ok, bool to_out, FILE *err);

/* The --json summary on `out`. */
void cli_json(const cli_opts *o, const httpa_curl_resp *r, int code, cli_sink *s, FILE *out);

/* The exit status for a finished request. An authenticated response with
 * Attest-Error is a failure: 4 for policy_violation, else 5. */
int cli_exit_code(const cli_opts *o, const httpa_curl_resp *r);
/* The error an authenticated response carries in Attest-Error, or HTTPA_OK. */
httpa_err cli_attest_error(const httpa_curl_resp *r);
/* Print an authenticated Attest-Error: token, status and the problem detail. */
void cli_report_attest_error(const httpa_curl_resp *r, const cli_sink *s, FILE *err);

#endif
