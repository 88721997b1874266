/* End-to-end helpers for tests that put real proxies in front of
 * httpa-gateway (tests/net_nginx_test.c, tests/net_haproxy_test.c): child
 * processes (demo-app, demo-relay, nginx, HAProxy, the httpa command), a
 * self-signed certificate, configuration templates from docs/examples, and an
 * in-process relay that damages one chosen octet of the traffic.
 *
 * Everything listens on 127.0.0.1, on ports the kernel picks; every process
 * is stopped by its PID. Compiled into the test (one translation unit), like
 * harness.c and upstream.c. */
#ifndef HTTPA_TESTS_E2E_PROXY_H
#define HTTPA_TESTS_E2E_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- files, paths, processes ---- */

/* A file of the build tree, relative to it ("programs/httpa"): found from
 * this test's own path (build/tests/X -> build/REL). */
const char *px_build_path(const char *rel, char *out, size_t cap);
/* A file of the source tree ("docs/examples/nginx-httpa.conf"), from
 * $HTTPA_SOURCE_DIR or the location this file was compiled from. */
const char *px_source_path(const char *rel, char *out, size_t cap);

/* The whole file (NUL-terminated; *len without it), or NULL. Free it. */
char *px_read_file(const char *path, size_t *len);
bool px_write_file(const char *path, const void *p, size_t n, int mode);
/* Occurrences of needle in a NUL-terminated text. */
size_t px_count(const char *s, const char *needle);
/* Logs are written as a request ends, which may be just after its client
 * got the answer: read `path` until `needle` occurs at least `count` times
 * (at most 5 s). The content (free it; "" if unreadable); *len may be NULL. */
char *px_wait_log(const char *path, const char *needle, size_t count, size_t *len);
/* Remove a directory tree made by a test (depth-bounded). */
void px_rmtree(const char *dir);
/* memmem */
bool px_contains(const void *hay, size_t n, const void *needle, size_t m);
/* The same, case-insensitive, for a NUL-terminated needle. */
bool px_icontains(const void *hay, size_t n, const char *needle);
/* Copy `tmpl` with every "@NAME@" of pairs {"@NAME@", value, ..., NULL}
 * replaced. Free the result. */
char *px_subst(const char *tmpl, const char *const *pairs);

/* fork and exec argv with stdout and stderr going to the given files (NULL:
 * /dev/null, or inherited with $E2E_VERBOSE). Sanitizer builds: libh2o's
 * per-thread caches are suppressed for LeakSanitizer, as in harness.c. */
pid_t px_spawn(const char *const *argv, const char *out_file, const char *err_file);
bool px_alive(pid_t pid);
/* Signal, then wait up to ms (then SIGKILL). The exit status (128+signal
 * when killed), -1 if it had to be killed. *pid becomes 0. */
int px_stop(pid_t *pid, int sig, int ms);
/* Wait for a port file (written by the child); the port or -1. */
int px_wait_port_file(const char *path, pid_t pid, int ms);
/* Wait until 127.0.0.1:port accepts connections. */
bool px_wait_listen(int port, pid_t pid, int ms);
/* A loopback port that was free a moment ago. */
int px_free_port(void);
/* VmHWM (peak resident set) of a live process in KiB, or -1. */
long px_vmhwm_kb(pid_t pid);
/* Whether this is a sanitizer build ($HTTPA_SANITIZE_BUILD). */
bool px_sanitized(void);

/* A self-signed P-256 certificate for 127.0.0.1 and localhost; `combined`
 * (may be NULL) receives certificate and key in one PEM file (HAProxy). */
bool px_make_cert(const char *cert, const char *key, const char *combined);

/* ---- demo-app and demo-relay (examples/) ---- */

typedef struct px_child {
    pid_t pid;
    int port;
} px_child;

/* examples/demo-app on a free port; files in dir. */
int px_app_start(px_child *c, const char *dir, const char *const *extra);
/* examples/demo-relay to 127.0.0.1:to_port, recording into capture_dir. */
int px_relay_start(px_child *c, const char *dir, int to_port, const char *capture_dir);
/* Every capture file with this suffix ("up" or "down"), concatenated. */
char *px_capture(const char *capture_dir, const char *suffix, size_t *len);

/* ---- nginx and HAProxy with the tested configurations of docs/examples ---- */

typedef struct px_proxy {
    pid_t pid;
    int port;
    char prefix[256];
} px_proxy;

/* The binaries ($HTTPA_NGINX or /usr/sbin/nginx, $HTTPA_HAPROXY or
 * /usr/sbin/haproxy), or NULL if absent. */
const char *px_nginx_path(void);
const char *px_haproxy_path(void);
/* Start nginx in `prefix` (an existing directory) with
 * docs/examples/nginx-httpa.conf: TLS with cert/key, gateways gw0 and gw1
 * ("127.0.0.1:P"). */
int px_nginx_start(px_proxy *n, const char *prefix, const char *cert, const char *key,
                   const char *gw0, const char *gw1);
/* Start HAProxy with docs/examples/haproxy-httpa.cfg: TLS with `pem`
 * (certificate and key), gateways gw0 and gw1. */
int px_haproxy_start(px_proxy *n, const char *prefix, const char *pem, const char *gw0,
                     const char *gw1);
/* SIGTERM and wait; the exit status. */
int px_proxy_stop(px_proxy *n);

/* ---- the httpa command as a child process ---- */

typedef void (*px_sink_fn)(void *arg, const uint8_t *p, size_t n);

typedef struct px_cli {
    int code;                 /* exit status, -1 if killed after the timeout */
    char *out;                /* standard output (unless streamed to a sink) */
    size_t out_len;
    char *err;                /* standard error */
    long maxrss_kb;           /* peak RSS of the child (getrusage of wait4) */
    double seconds;
} px_cli;

/* Run programs/httpa with args (NULL-terminated). Standard output goes to
 * `sink` as it arrives when given, else into r->out. At most timeout_s. */
void px_httpa(px_cli *r, const char *dir, const char *const *args, px_sink_fn sink, void *arg,
              int timeout_s);
void px_cli_free(px_cli *r);

/* ---- a relay that damages one octet (test only) ---- */

typedef enum px_tamper_mode {
    PX_TAMPER_NONE,           /* relay and record only */
    PX_TAMPER_REQ_FIELD,      /* flip an octet in the middle of a request field's value */
    PX_TAMPER_REQ_BODY,       /* flip the request body octet at `offset` */
    PX_TAMPER_RESP_FIELD,     /* the same in a response */
    PX_TAMPER_RESP_BODY,
} px_tamper_mode;

typedef struct px_buf {
    uint8_t *p;
    size_t len, cap, max;
} px_buf;

typedef struct px_tamper {
    int fd, port, to_port;
    pthread_t tid;
    atomic_bool stop;
    pthread_mutex_t mu;
    /* what to damage: the first message (request or response) that carries
     * Attest-Cargo, that is a TrT or AtSP and its answer */
    px_tamper_mode mode;
    char field[64];
    uint64_t offset;
    bool armed;
    int tampered;             /* octets flipped so far */
    px_buf up, down;          /* everything relayed each way (bounded) */
    pthread_t conns[128];
    size_t nconns;
} px_tamper;

int px_tamper_start(px_tamper *t, int to_port);
/* Arm for one message (mode, field name for *_FIELD, body offset for *_BODY). */
void px_tamper_arm(px_tamper *t, px_tamper_mode mode, const char *field, uint64_t offset);
int px_tamper_count(px_tamper *t);
/* A copy of what was relayed in one direction so far (free it). */
char *px_tamper_seen(px_tamper *t, bool up, size_t *len);
void px_tamper_stop(px_tamper *t);

/* The first complete HTTP/1.1 request in `s` whose head has the field
 * `marker` (case-insensitive), with a Content-Length body: a copy of its
 * octets (*len of them, found at offset *at), or NULL. */
char *px_find_request(const char *s, size_t n, const char *marker, size_t *len, size_t *at);

#endif
