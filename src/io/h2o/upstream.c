/* The gateway's HTTP/1.1 client for its loopback upstream (see upstream.h).
 * h2o 2.2.5's own h2o_http1client cannot pause a response, so a slow
 * client would make it buffer the whole upstream response; this one stops
 * reading instead. It never pipelines: one request per connection at a time. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "upstream.h"

#define UP_MAX_HEADERS 100
#define UP_MAX_HEAD 65536          /* response header section */
#define UP_IDLE_TIMEOUT_MS 2000    /* below common upstream keep-alive timeouts */
#define UP_RCVBUF (256 * 1024)     /* kernel receive buffer: bounds one read */

enum up_mode { UP_NONE, UP_LENGTH, UP_CHUNKED, UP_CLOSE };

struct up_req {
    up_pool *pool;
    h2o_socket_t *sock;
    const up_callbacks *cb;
    void *arg;
    h2o_iovec_t bufs[2];
    size_t nbufs;
    h2o_timeout_entry_t timeout;
    enum up_mode mode;
    uint64_t left;
    struct phr_chunked_decoder dec;
    bool reused;      /* the connection came from the idle pool */
    bool retried;     /* one retry on a fresh connection was made */
    bool head_seen;
    bool any_input;   /* an octet of the response arrived */
    bool no_body_response;
    bool keepalive;
    bool paused;
    bool in_cb;       /* inside a consumer callback: cancel is deferred */
    bool cancelled;
};

typedef struct up_idle {
    h2o_linklist_t link;
    up_pool *pool;
    h2o_socket_t *sock;
    h2o_timeout_entry_t timeout;
} up_idle;

/* ---- addresses ---- */

static const char *parse_port(const char *s, uint16_t *port)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || v == 0 || v > 65535 || (*end != '\0' && *end != '/'))
        return "the upstream port must be 1 to 65535";
    if (*end == '/' && end[1] != '\0')
        return "the upstream URL must not have a path";
    *port = (uint16_t)v;
    return NULL;
}

static const char *parse_unix(const char *path, up_addr *out)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->sa;
    size_t n = strlen(path);
    if (path[0] != '/' || n >= sizeof(sun->sun_path))
        return "the unix socket path must be absolute and short enough";
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    out->len = (socklen_t)sizeof(*sun);
    strcpy(out->authority, "localhost");
    return NULL;
}

static const char *parse_inet(const char *host, size_t hlen, uint16_t port, up_addr *out)
{
    char h[64];
    if (hlen == 0 || hlen >= sizeof(h))
        return "the upstream host is missing or too long";
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    if (strcmp(h, "localhost") == 0)
        strcpy(h, "127.0.0.1");
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
            return "the upstream must be a loopback address (127.0.0.0/8, ::1) or a unix socket";
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        out->len = (socklen_t)sizeof(*in4);
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return "the upstream must be a loopback address (127.0.0.0/8, ::1) or a unix socket";
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        out->len = (socklen_t)sizeof(*in6);
    } else {
        return "the upstream host must be localhost or a numeric loopback address";
    }
    snprintf(out->authority, sizeof(out->authority), "%.*s:%u", (int)hlen, host, port);
    return NULL;
}

const char *up_addr_parse(const char *url, up_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL)
        return "no upstream given";
    if (strncmp(url, "unix:", 5) == 0)
        return parse_unix(url + 5, out);
    if (strncmp(url, "http://", 7) != 0)
        return "the upstream must be http://HOST:PORT or unix:/PATH";
    const char *host = url + 7, *colon;
    size_t hlen;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (close == NULL || close[1] != ':')
            return "an IPv6 upstream is written http://[::1]:PORT";
        host++;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strchr(host, ':');
        if (colon == NULL)
            return "the upstream URL needs a port";
        hlen = (size_t)(colon - host);
    }
    uint16_t port;
    const char *why = parse_port(colon + 1, &port);
    return why != NULL ? why : parse_inet(host, hlen, port, out);
}

/* ---- the idle pool ---- */

static void idle_close(up_idle *i)
{
    h2o_linklist_unlink(&i->link);
    if (h2o_timeout_is_linked(&i->timeout))
        h2o_timeout_unlink(&i->timeout);
    i->pool->nidle--;
    h2o_socket_close(i->sock);
    free(i);
}

static void on_idle_event(h2o_socket_t *sock, const char *err)
{
    (void)err; /* data or EOF on an idle connection: either way it is done */
    idle_close(sock->data);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    idle_close(H2O_STRUCT_FROM_MEMBER(up_idle, timeout, entry));
}

static void pool_put(up_pool *p, h2o_socket_t *sock)
{
    up_idle *i;
    if (p->nidle >= p->max_idle || sock->input->size != 0 || (i = calloc(1, sizeof(*i))) == NULL) {
        h2o_socket_close(sock);
        return;
    }
    i->pool = p;
    i->sock = sock;
    i->timeout.cb = on_idle_timeout;
    sock->data = i;
    h2o_linklist_insert(&p->idle, &i->link);
    p->nidle++;
    h2o_socket_read_start(sock, on_idle_event);
    h2o_timeout_link(p->loop, &p->idle_timeout, &i->timeout);
}

static h2o_socket_t *pool_take(up_pool *p)
{
    if (h2o_linklist_is_empty(&p->idle))
        return NULL;
    up_idle *i = H2O_STRUCT_FROM_MEMBER(up_idle, link, p->idle.prev); /* most recent */
    h2o_socket_t *sock = i->sock;
    h2o_linklist_unlink(&i->link);
    if (h2o_timeout_is_linked(&i->timeout))
        h2o_timeout_unlink(&i->timeout);
    p->nidle--;
    free(i);
    h2o_socket_read_stop(sock);
    return sock;
}

void up_pool_init(up_pool *p, h2o_loop_t *loop, const up_addr *addr, uint64_t io_timeout_ms,
                  size_t max_idle)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->addr = addr;
    p->max_idle = max_idle;
    h2o_linklist_init_anchor(&p->idle);
    h2o_timeout_init(loop, &p->io_timeout, io_timeout_ms);
    h2o_timeout_init(loop, &p->idle_timeout,
                     io_timeout_ms < UP_IDLE_TIMEOUT_MS ? io_timeout_ms : UP_IDLE_TIMEOUT_MS);
    h2o_timeout_init(loop, &p->zero_timeout, 0);
}

void up_pool_dispose(up_pool *p)
{
    while (!h2o_linklist_is_empty(&p->idle))
        idle_close(H2O_STRUCT_FROM_MEMBER(up_idle, link, p->idle.next));
    h2o_timeout_dispose(p->loop, &p->io_timeout);
    h2o_timeout_dispose(p->loop, &p->idle_timeout);
    h2o_timeout_dispose(p->loop, &p->zero_timeout);
}

/* ---- one exchange ---- */

static void arm(up_req *r)
{
    if (h2o_timeout_is_linked(&r->timeout))
        h2o_timeout_unlink(&r->timeout);
    if (!r->paused)
        h2o_timeout_link(r->pool->loop, &r->pool->io_timeout, &r->timeout);
}

static void destroy(up_req *r, bool keep_socket)
{
    if (h2o_timeout_is_linked(&r->timeout))
        h2o_timeout_unlink(&r->timeout);
    if (r->sock != NULL) {
        if (keep_socket && r->keepalive && !r->cancelled)
            pool_put(r->pool, r->sock);
        else
            h2o_socket_close(r->sock);
    }
    free(r);
}

static void do_send(up_req *r);
static void on_connect(h2o_socket_t *sock, const char *err);

static void connect_fresh(up_req *r)
{
    r->reused = false;
    r->sock = h2o_socket_connect(r->pool->loop, (struct sockaddr *)&r->pool->addr->sa,
                                 r->pool->addr->len, on_connect);
    if (r->sock == NULL) {
        /* Report from the loop, never from inside up_start. */
        h2o_timeout_link(r->pool->loop, &r->pool->zero_timeout, &r->timeout);
        return;
    }
    r->sock->data = r;
    arm(r);
}

/* A reused keep-alive connection that failed before any response octet was
 * most likely closed by the upstream while idle: try once more. */
static void fail(up_req *r, const char *what)
{
    if (r->reused && !r->head_seen && !r->retried && !r->any_input) {
        r->retried = true;
        h2o_socket_close(r->sock);
        r->sock = NULL;
        connect_fresh(r);
        return;
    }
    r->keepalive = false;
    r->cb->on_error(r->arg, what, r->head_seen);
    destroy(r, false);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    up_req *r = H2O_STRUCT_FROM_MEMBER(up_req, timeout, entry);
    if (r->sock == NULL) {
        r->cb->on_error(r->arg, "cannot connect to the upstream", false);
        destroy(r, false);
        return;
    }
    r->retried = true; /* a timeout is never retried */
    fail(r, "upstream I/O timeout");
}

/* Hand body octets (in the input buffer) to the consumer, then drop the
 * whole input: what was not delivered is chunk framing or, with keep-alive
 * already off, excess octets. Returns false when the exchange is over
 * (finished, or ended by the consumer) and r is gone. */
static bool deliver(up_req *r, const uint8_t *p, size_t n, bool fin)
{
    r->in_cb = true;
    int rc = r->cb->on_body(r->arg, p, n, fin);
    r->in_cb = false;
    h2o_buffer_consume(&r->sock->input, r->sock->input->size);
    if (fin || rc != 0 || r->cancelled) {
        destroy(r, fin && rc == 0);
        return false;
    }
    return true;
}

static bool read_body(up_req *r)
{
    h2o_buffer_t *in = r->sock->input;
    size_t n = in->size;
    bool fin = false;

    if (r->mode == UP_LENGTH) {
        if (n > r->left) {
            r->keepalive = false; /* octets after the body */
            n = (size_t)r->left;
        }
        r->left -= n;
        fin = r->left == 0;
    } else if (r->mode == UP_CHUNKED) {
        ssize_t rest = phr_decode_chunked(&r->dec, in->bytes, &n);
        if (rest == -1) {
            h2o_buffer_consume(&r->sock->input, in->size);
            fail(r, "malformed chunked response body");
            return false;
        }
        fin = rest >= 0;
        if (rest > 0)
            r->keepalive = false;
    }
    if (n == 0 && !fin) {
        h2o_buffer_consume(&r->sock->input, in->size);
        return true;
    }
    return deliver(r, (const uint8_t *)in->bytes, n, fin);
}

static const char *framing(up_req *r, int minor, int status, const struct phr_header *h, size_t nh)
{
    bool chunked = false, have_len = false;
    r->keepalive = minor >= 1;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].name_len == 0)
            return "obsolete line folding in the upstream response";
        if (h[i].name_len == 10 && strncasecmp(h[i].name, "connection", 10) == 0) {
            if (h[i].value_len == 5 && strncasecmp(h[i].value, "close", 5) == 0)
                r->keepalive = false;
            else if (h[i].value_len == 10 && strncasecmp(h[i].value, "keep-alive", 10) == 0)
                r->keepalive = true;
        } else if (h[i].name_len == 17 && strncasecmp(h[i].name, "transfer-encoding", 17) == 0) {
            if (h[i].value_len != 7 || strncasecmp(h[i].value, "chunked", 7) != 0)
                return "unsupported transfer-coding in the upstream response";
            chunked = true;
        } else if (h[i].name_len == 14 && strncasecmp(h[i].name, "content-length", 14) == 0) {
            uint64_t v = 0;
            if (h[i].value_len == 0 || h[i].value_len > 18)
                return "invalid Content-Length in the upstream response";
            for (size_t k = 0; k < h[i].value_len; k++) {
                if (h[i].value[k] < '0' || h[i].value[k] > '9')
                    return "invalid Content-Length in the upstream response";
                v = v * 10 + (uint64_t)(h[i].value[k] - '0');
            }
            if (have_len && v != r->left)
                return "conflicting Content-Length in the upstream response";
            have_len = true;
            r->left = v;
        }
    }
    if (status == 101)
        return "the upstream switched protocols";
    if (r->no_body_response || status == 204 || status == 304)
        r->mode = UP_NONE;
    else if (chunked)
        r->mode = UP_CHUNKED;
    else if (have_len)
        r->mode = UP_LENGTH;
    else
        r->mode = UP_CLOSE, r->keepalive = false;
    if (chunked)
        r->dec.consume_trailer = 1;
    return NULL;
}

/* Returns false when r is gone. */
static bool read_head(up_req *r)
{
    struct phr_header h[UP_MAX_HEADERS];
    size_t nh;
    int minor, status, rlen;
    const char *msg;
    size_t msg_len;

    r->any_input = true;
    for (;;) {
        nh = UP_MAX_HEADERS;
        rlen = phr_parse_response(r->sock->input->bytes, r->sock->input->size, &minor, &status,
                                  &msg, &msg_len, h, &nh, 0);
        if (rlen == -2 && r->sock->input->size <= UP_MAX_HEAD)
            return true;
        if (rlen < 0) {
            r->retried = true;
            fail(r, rlen == -2 ? "upstream response head too large" : "malformed upstream response");
            return false;
        }
        if (status >= 200 || status == 101)
            break;
        h2o_buffer_consume(&r->sock->input, (size_t)rlen); /* 1xx interim */
    }
    const char *why = framing(r, minor, status, h, nh);
    if (why != NULL) {
        r->retried = true;
        fail(r, why);
        return false;
    }
    r->head_seen = true;
    up_head head = {status, h, nh, r->mode == UP_LENGTH ? r->left : UINT64_MAX, r->mode != UP_NONE};
    r->in_cb = true;
    int rc = r->cb->on_head(r->arg, &head);
    r->in_cb = false;
    h2o_buffer_consume(&r->sock->input, (size_t)rlen);
    if (rc != 0 || r->cancelled) {
        r->keepalive = false;
        destroy(r, false);
        return false;
    }
    if (r->mode == UP_NONE || (r->mode == UP_LENGTH && r->left == 0)) {
        if (r->sock->input->size != 0)
            r->keepalive = false;
        deliver(r, NULL, 0, true);
        return false;
    }
    return true;
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    up_req *r = sock->data;
    if (err != NULL) {
        if (r->head_seen && r->mode == UP_CLOSE) {
            deliver(r, NULL, 0, true);
            return;
        }
        fail(r, r->head_seen ? "upstream closed the connection mid-body"
                             : "upstream closed the connection before responding");
        return;
    }
    if (!r->head_seen && !read_head(r))
        return;
    if (r->head_seen && r->sock->input->size != 0 && !read_body(r))
        return;
    arm(r);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    up_req *r = sock->data;
    if (err != NULL) {
        fail(r, "cannot write the request to the upstream");
        return;
    }
    if (!r->paused)
        h2o_socket_read_start(sock, on_read);
    arm(r);
}

static void do_send(up_req *r)
{
    h2o_socket_write(r->sock, r->bufs, r->nbufs, on_written);
    arm(r);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    up_req *r = sock->data;
    if (err != NULL) {
        r->retried = true;
        fail(r, "cannot connect to the upstream");
        return;
    }
    /* h2o reads until the kernel buffer is empty; with autotuning that is
     * several MiB per read, all sealed and queued at once past HX_OUT_HIGH.
     * A fixed receive buffer keeps each read, and the response memory, small. */
    int rcvbuf = UP_RCVBUF;
    (void)setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    do_send(r);
}

up_req *up_start(up_pool *p, h2o_iovec_t head, h2o_iovec_t body, bool no_body_response,
                 const up_callbacks *cb, void *arg)
{
    up_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->pool = p;
    r->cb = cb;
    r->arg = arg;
    r->bufs[0] = head;
    r->bufs[1] = body;
    r->nbufs = body.len != 0 ? 2 : 1;
    r->no_body_response = no_body_response;
    r->timeout.cb = on_timeout;
    r->sock = pool_take(p);
    if (r->sock == NULL) {
        connect_fresh(r);
        return r;
    }
    r->reused = true;
    r->sock->data = r;
    do_send(r);
    return r;
}

void up_pause(up_req *r)
{
    if (r->paused)
        return;
    r->paused = true;
    if (r->sock != NULL && h2o_socket_is_reading(r->sock))
        h2o_socket_read_stop(r->sock);
    arm(r);
}

void up_resume(up_req *r)
{
    if (!r->paused)
        return;
    r->paused = false;
    if (r->sock == NULL || !r->head_seen) {
        arm(r);
        return;
    }
    h2o_socket_read_start(r->sock, on_read);
    if (r->sock->input->size != 0 && !read_body(r))
        return;
    arm(r);
}

void up_cancel(up_req *r)
{
    if (r->in_cb) {
        r->cancelled = true;
        return;
    }
    r->keepalive = false;
    destroy(r, false);
}
