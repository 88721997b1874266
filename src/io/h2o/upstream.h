/* A small HTTP/1.1 client for the gateway's upstream: one loopback TCP
 * address or unix socket, keep-alive connections pooled per event loop,
 * chunked and Content-Length responses, and read back-pressure (pause and
 * resume) so a slow client never makes the gateway buffer a whole response.
 * It runs on h2o's evloop sockets. Private to src/io/h2o. */
#ifndef HTTPA_IO_H2O_UPSTREAM_H
#define HTTPA_IO_H2O_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "h2o_inc.h"
#include "pico.h"

/* Where the upstream is: resolved once at start, never through DNS. */
typedef struct up_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char authority[80]; /* Host for requests without one: "127.0.0.1:8080", "localhost" */
} up_addr;

/* Parse "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080"
 * or "unix:/path/to.sock". Only loopback addresses and unix sockets are
 * accepted: plaintext must not leave the TEE. NULL, or a static sentence
 * saying what is wrong. */
const char *up_addr_parse(const char *url, up_addr *out);

/* Per event loop: the address, idle connections and the I/O timeout. */
typedef struct up_pool {
    h2o_loop_t *loop;
    const up_addr *addr;
    h2o_timeout_t io_timeout;   /* an exchange's connect, write and reads */
    h2o_timeout_t idle_timeout; /* an idle keep-alive connection */
    h2o_timeout_t zero_timeout; /* errors reported from the loop */
    h2o_linklist_t idle;
    size_t nidle;
    size_t max_idle;
} up_pool;

void up_pool_init(up_pool *p, h2o_loop_t *loop, const up_addr *addr, uint64_t io_timeout_ms,
                  size_t max_idle);
void up_pool_dispose(up_pool *p);

typedef struct up_req up_req;

/* The response head; pointers are valid during the callback only. */
typedef struct up_head {
    int status;
    const struct phr_header *headers;
    size_t nheaders;
    uint64_t content_length; /* UINT64_MAX: not declared */
    bool has_body;
} up_head;

/* The consumer's callbacks. Each returns 0 to go on; any other value ends
 * the exchange (the connection is closed and no callback follows). After
 * on_body with fin, or after on_error, the up_req is gone. */
typedef struct up_callbacks {
    int (*on_head)(void *arg, const up_head *head);
    int (*on_body)(void *arg, const uint8_t *p, size_t n, bool fin);
    void (*on_error)(void *arg, const char *what, bool head_seen);
} up_callbacks;

/* Send one request: `head` (request line and fields, CRLF CRLF) and `body`.
 * Both must stay valid until the exchange ends. `no_body_response` for HEAD.
 * Errors come through on_error, possibly before this returns. */
up_req *up_start(up_pool *p, h2o_iovec_t head, h2o_iovec_t body, bool no_body_response,
                 const up_callbacks *cb, void *arg);

/* Stop reading the response (the client is slow) and start again. */
void up_pause(up_req *r);
void up_resume(up_req *r);

/* Abandon the exchange: the connection is closed, no callback follows.
 * Not to be called from inside a callback (return non-zero there). */
void up_cancel(up_req *r);

#endif
