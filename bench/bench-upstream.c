/* bench-upstream: the application behind the gateway and nginx in
 * bench/run.sh. A small, fast HTTP/1.1 server: epoll, one thread per
 * --threads, keep-alive, pipelining, request bodies read and discarded as
 * they arrive (Content-Length or chunked), and every answer a fixed-size
 * body of a repeating pattern: --size octets, or N when the target has a
 * "size=N" query parameter (how the bulk download asks for 256 MiB).
 *
 *   bench-upstream [--listen ADDR:PORT] [--port-file F] [--size N] [--threads N]
 *   bench-upstream --free-port      print a free loopback port (for nginx) and exit
 *
 * Loopback only. Stops on SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP 65536               /* request head plus what follows it */
#define PATTERN_LEN (1u << 20)     /* the body source, written repeatedly */
#define MAX_EVENTS 256
#define MAX_THREADS 16
#define MAX_SIZE ((uint64_t)1 << 40)

typedef enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED } body_mode;
typedef enum chunk_state { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_CRLF, CK_TRAILER } chunk_state;

typedef struct conn {
    int fd;
    char in[IN_CAP];
    size_t in_len;
    /* the request body being discarded */
    body_mode body;
    uint64_t body_left;
    chunk_state ck;
    uint64_t ck_left;
    int ck_line;      /* octets of the current trailer line */
    bool ck_digits;
    /* the response being written */
    char head[160];
    size_t head_len, head_off;
    uint64_t resp_left;   /* body octets still to write */
    uint64_t resp_off;    /* position in the pattern */
    bool writing;
    bool close_after;
    bool want_out;        /* EPOLLOUT registered */
} conn;

typedef struct server {
    int listen_fd;
    uint64_t size;
    atomic_bool stop;
    int nthreads;
    pthread_t tids[MAX_THREADS];
} server;

static uint8_t pattern[PATTERN_LEN];

static void set_events(int ep, conn *c, bool out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = out;
}

static void conn_close(int ep, conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* The value of "size=" in the target's query, or the default. */
static uint64_t size_of_target(const char *t, size_t n, uint64_t dflt)
{
    const char *q = memchr(t, '?', n);
    if (q == NULL)
        return dflt;
    for (const char *p = q + 1; p + 5 <= t + n; p++) {
        if ((p[-1] == '?' || p[-1] == '&') && memcmp(p, "size=", 5) == 0) {
            uint64_t v = 0;
            const char *d = p + 5;
            int digits = 0;
            while (d < t + n && *d >= '0' && *d <= '9' && digits < 14) {
                v = v * 10 + (uint64_t)(*d - '0');
                d++, digits++;
            }
            return digits != 0 && v <= MAX_SIZE ? v : dflt;
        }
    }
    return dflt;
}

static bool line_is(const char *line, size_t len, const char *name, size_t nlen)
{
    return len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0;
}

static const char *value_of(const char *line, size_t len, size_t nlen, size_t *vlen)
{
    const char *v = line + nlen + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* Parse one request head of `len` octets (ending CRLF CRLF) and prepare the
 * answer. False: malformed (the connection is closed). */
static bool start_request(server *s, conn *c, size_t len)
{
    const char *p = c->in, *end = c->in + len;
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if (eol == NULL)
        return false;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL)
        return false;
    bool head = sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0;
    bool http10 = eol - sp2 - 1 == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    uint64_t size = size_of_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), s->size);
    c->body = BODY_NONE;
    c->body_left = 0;
    c->close_after = http10;
    for (p = eol + 2; p < end - 2;) {
        const char *e = memchr(p, '\r', (size_t)(end - p));
        if (e == NULL)
            return false;
        size_t ll = (size_t)(e - p), vl;
        const char *v;
        if (line_is(p, ll, "content-length", 14)) {
            v = value_of(p, ll, 14, &vl);
            uint64_t n = 0;
            if (vl == 0 || vl > 18)
                return false;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return false;
                n = n * 10 + (uint64_t)(v[i] - '0');
            }
            c->body = n != 0 ? BODY_LENGTH : BODY_NONE;
            c->body_left = n;
        } else if (line_is(p, ll, "transfer-encoding", 17)) {
            v = value_of(p, ll, 17, &vl);
            if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
                return false;
            c->body = BODY_CHUNKED;
            c->ck = CK_SIZE;
            c->ck_left = 0;
            c->ck_digits = false;
        } else if (line_is(p, ll, "connection", 10)) {
            v = value_of(p, ll, 10, &vl);
            if (vl == 5 && strncasecmp(v, "close", 5) == 0)
                c->close_after = true;
            else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
                c->close_after = false;
        }
        p = e + 2;
    }
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %" PRIu64
                     "\r\nContent-Type: application/octet-stream\r\n%s\r\n",
                     size, c->close_after ? "Connection: close\r\n" : "");
    c->head_len = (size_t)n;
    c->head_off = 0;
    c->resp_left = head ? 0 : size;
    c->resp_off = 0;
    return true;
}

/* Discard body octets at in[0..n); returns how many belong to the body, or
 * SIZE_MAX when the chunked framing is broken. */
static size_t eat_body(conn *c, const char *in, size_t n)
{
    if (c->body == BODY_LENGTH) {
        size_t k = n < c->body_left ? n : (size_t)c->body_left;
        c->body_left -= k;
        if (c->body_left == 0)
            c->body = BODY_NONE;
        return k;
    }
    size_t i = 0;
    while (i < n && c->body == BODY_CHUNKED) {
        char ch = in[i];
        switch (c->ck) {
        case CK_SIZE: {
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
            if (d >= 0) {
                if (c->ck_left >> 56)
                    return SIZE_MAX;
                c->ck_left = c->ck_left * 16 + (uint64_t)d;
                c->ck_digits = true;
                i++;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->ck = CK_EXT;
                i++;
            } else if (ch == '\r') {
                i++;
            } else if (ch == '\n' && c->ck_digits) {
                i++;
                c->ck = c->ck_left != 0 ? CK_DATA : CK_TRAILER;
                c->ck_line = 0;
            } else {
                return SIZE_MAX;
            }
            break;
        }
        case CK_EXT:
            if (ch == '\n') {
                c->ck = c->ck_left != 0 ? CK_DATA : CK_TRAILER;
                c->ck_line = 0;
            }
            i++;
            break;
        case CK_DATA: {
            size_t k = n - i < c->ck_left ? n - i : (size_t)c->ck_left;
            c->ck_left -= k;
            i += k;
            if (c->ck_left == 0)
                c->ck = CK_DATA_CRLF;
            break;
        }
        case CK_DATA_CRLF:
            if (ch == '\n') {
                c->ck = CK_SIZE;
                c->ck_digits = false;
            } else if (ch != '\r') {
                return SIZE_MAX;
            }
            i++;
            break;
        case CK_TRAILER:
            if (ch == '\n') {
                if (c->ck_line == 0)
                    c->body = BODY_NONE; /* empty line: the end */
                c->ck_line = 0;
            } else if (ch != '\r') {
                c->ck_line++;
            }
            i++;
            break;
        }
    }
    return i;
}

/* Write as much of the response as the socket takes. 1: done, 0: blocked,
 * -1: error. */
static int write_response(conn *c)
{
    for (int rounds = 0; rounds < 1024; rounds++) {
        struct iovec iov[2];
        int n = 0;
        if (c->head_off < c->head_len)
            iov[n++] = (struct iovec){c->head + c->head_off, c->head_len - c->head_off};
        if (c->resp_left != 0) {
            size_t off = (size_t)(c->resp_off % PATTERN_LEN);
            size_t k = PATTERN_LEN - off;
            if (k > c->resp_left)
                k = (size_t)c->resp_left;
            iov[n++] = (struct iovec){pattern + off, k};
        }
        if (n == 0)
            return 1;
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        size_t done = (size_t)w;
        if (c->head_off < c->head_len) {
            size_t h = c->head_len - c->head_off;
            size_t k = done < h ? done : h;
            c->head_off += k;
            done -= k;
        }
        c->resp_left -= done;
        c->resp_off += done;
    }
    return 0; /* a huge response: yield to the other connections */
}

/* Process what is in the input buffer: body octets, then request heads.
 * Returns false when the connection must close. */
static bool process(server *s, int ep, conn *c)
{
    for (int guard = 0; guard < 4096; guard++) {
        if (c->writing) {
            int r = write_response(c);
            if (r < 0)
                return false;
            if (r == 0) {
                set_events(ep, c, true);
                return true;
            }
            c->writing = false;
            if (c->close_after)
                return false;
        }
        if (c->body != BODY_NONE) {
            size_t k = eat_body(c, c->in, c->in_len);
            if (k == SIZE_MAX)
                return false;
            memmove(c->in, c->in + k, c->in_len - k);
            c->in_len -= k;
            if (c->body != BODY_NONE)
                break; /* more body to come */
            c->writing = true; /* answer once the whole body is in */
            continue;
        }
        if (c->in_len < 4)
            break;
        char *end = NULL;
        for (size_t i = 0; i + 3 < c->in_len; i++)
            if (c->in[i] == '\r' && memcmp(c->in + i, "\r\n\r\n", 4) == 0) {
                end = c->in + i + 4;
                break;
            }
        if (end == NULL) {
            if (c->in_len == IN_CAP)
                return false; /* head too large */
            break;
        }
        size_t hl = (size_t)(end - c->in);
        if (!start_request(s, c, hl))
            return false;
        memmove(c->in, end, c->in_len - hl);
        c->in_len -= hl;
        if (c->body == BODY_NONE)
            c->writing = true;
    }
    set_events(ep, c, c->writing);
    return true;
}

static void on_readable(server *s, int ep, conn *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        if (c->in_len == IN_CAP) {
            if (c->body == BODY_NONE && !c->writing) {
                conn_close(ep, c); /* a head larger than the buffer */
                return;
            }
            break; /* wait for the response to drain */
        }
        ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(ep, c);
            return;
        }
        if (r < 0)
            break;
        c->in_len += (size_t)r;
        if (!process(s, ep, c)) {
            conn_close(ep, c);
            return;
        }
        if ((size_t)r < 16384)
            break;
    }
}

static void accept_all(int ep, int lfd)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

static void *worker(void *arg)
{
    server *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static char listener_tag; /* marks the listening socket's event */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listener_tag};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &ev) != 0) {
        perror("bench-upstream: epoll");
        atomic_store(&s->stop, true);
        return NULL;
    }
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 200);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                accept_all(ep, s->listen_fd);
                continue;
            }
            conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
                conn_close(ep, c);
                continue;
            }
            if (evs[i].events & EPOLLIN) {
                on_readable(s, ep, c);
                continue; /* c may be gone */
            }
            if ((evs[i].events & EPOLLOUT) && !process(s, ep, c))
                conn_close(ep, c);
        }
    }
    close(ep); /* open connections are dropped with the process */
    return NULL;
}

static int listen_on(const char *spec, const char *port_file)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "bench-upstream: --listen takes a loopback 127.x.y.z:PORT\n");
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
        perror("bench-upstream: listen");
        return -1;
    }
    if (port_file != NULL) {
        socklen_t l = sizeof(sa);
        char tmp[4096];
        getsockname(fd, (struct sockaddr *)&sa, &l);
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "bench-upstream: cannot write %s\n", port_file);
            return -1;
        }
    }
    return fd;
}

static int print_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &l) != 0) {
        perror("bench-upstream: --free-port");
        return 1;
    }
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

static void usage(FILE *f)
{
    fputs("NAME\n"
          "    bench-upstream - fixed-size HTTP/1.1 answers for bench/run.sh\n\n"
          "SYNOPSIS\n"
          "    bench-upstream [--listen 127.0.0.1:PORT] [--port-file FILE] [--size N] [--threads N]\n"
          "    bench-upstream --free-port\n\n"
          "DESCRIPTION\n"
          "    Answers every request with 200 and a body of N pattern octets (default\n"
          "    1024); a target with the query parameter size=N asks for N octets\n"
          "    (up to 2^40). Request bodies are read and discarded as they arrive.\n"
          "    Keep-alive and pipelining; epoll, one loop per thread. Loopback only.\n"
          "    Port 0 picks a free port (see --port-file). SIGTERM or SIGINT stops it.\n"
          "    --free-port prints a port that is free on 127.0.0.1 now, for servers\n"
          "    that cannot listen on port 0 and report it (nginx).\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"listen", required_argument, NULL, 'l'},
                                       {"port-file", required_argument, NULL, 'p'},
                                       {"size", required_argument, NULL, 's'},
                                       {"threads", required_argument, NULL, 't'},
                                       {"free-port", no_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *listen_spec = "127.0.0.1:0", *port_file = NULL;
    server s;
    int c;
    memset(&s, 0, sizeof(s));
    s.size = 1024;
    s.nthreads = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': listen_spec = optarg; break;
        case 'p': port_file = optarg; break;
        case 's': s.size = strtoull(optarg, NULL, 10); break;
        case 't': s.nthreads = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        case 'f': return print_free_port();
        default: usage(stderr); return 2;
        }
    }
    if (s.nthreads < 1 || s.nthreads > MAX_THREADS || s.size > MAX_SIZE) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < PATTERN_LEN; i++)
        pattern[i] = (uint8_t)('a' + i % 26);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((s.listen_fd = listen_on(listen_spec, port_file)) < 0)
        return 1;
    for (int i = 0; i < s.nthreads; i++)
        if (pthread_create(&s.tids[i], NULL, worker, &s) != 0) {
            fprintf(stderr, "bench-upstream: cannot start a thread\n");
            return 1;
        }
    struct timespec tick = {0, 200 * 1000000L};
    while (!atomic_load(&s.stop)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    atomic_store(&s.stop, true);
    for (int i = 0; i < s.nthreads; i++)
        pthread_join(s.tids[i], NULL);
    close(s.listen_fd);
    return 0;
}
