/* The test's upstream application: an HTTP/1.1 server in threads of the
 * test process (one per connection, keep-alive), recording every request
 * it receives completely and counting those that ended midway. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define UP_HEAD_MAX (1 << 20)

void e2e_pattern(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

typedef struct up_conn {
    e2e_upstream *u;
    int fd;
} up_conn;

/* Read at least one octet within 100 ms steps until stop; 0 on EOF, -1. */
static ssize_t read_some(e2e_upstream *u, int fd, void *p, size_t n)
{
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, 100);
        if (atomic_load(&u->stop))
            return -1;
        if (r > 0)
            return read(fd, p, n);
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

bool e2e_head_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t n = end != NULL ? (size_t)(end - v) : strlen(v);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
    }
    return false;
}

bool e2e_head_has(const char *head, const char *name, const char *value)
{
    char v[4096];
    return e2e_head_value(head, name, v, sizeof(v)) && strcmp(v, value) == 0;
}

static void record(e2e_upstream *u, const char *head, size_t hlen, const uint8_t *body, size_t blen)
{
    pthread_mutex_lock(&u->mu);
    if (u->nreqs < E2E_MAX_RECORDED) {
        e2e_upreq *r = &u->reqs[u->nreqs++];
        r->head = strndup(head, hlen);
        r->body = malloc(blen + 1);
        memcpy(r->body, body, blen);
        r->body_len = blen;
    }
    pthread_mutex_unlock(&u->mu);
}

static void incomplete(e2e_upstream *u)
{
    pthread_mutex_lock(&u->mu);
    u->incomplete++;
    pthread_mutex_unlock(&u->mu);
}

static bool respond(e2e_upstream *u, int fd, const char *head)
{
    char line[512], hdr[1024];
    bool secrets = strncmp(head, "POST /.httpa/secrets ", 21) == 0;
    int status = secrets && u->secrets_status ? u->secrets_status : 200;
    size_t n = secrets ? 11 : u->resp_len;
    uint8_t *body = malloc(n + 1);
    if (secrets)
        memcpy(body, "{\"ok\":true}", 11);
    else
        e2e_pattern(body, n, 7);
    if (u->delay_ms > 0)
        nanosleep(&(struct timespec){u->delay_ms / 1000, (u->delay_ms % 1000) * 1000000L}, NULL);
    bool head_req = strncmp(head, "HEAD ", 5) == 0;
    bool chunked = u->chunked && !secrets;
    snprintf(hdr, sizeof(hdr),
             "HTTP/1.1 %d %s\r\nContent-Type: application/x-test\r\n"
             "Set-Cookie: sid=upstream-secret; HttpOnly\r\nX-Up: 1\r\n%s\r\n",
             status, status == 200 ? "OK" : "Rejected",
             chunked ? "Transfer-Encoding: chunked\r\n"
                     : (snprintf(line, sizeof(line), "Content-Length: %zu\r\n", n), line));
    bool ok = write_all(fd, hdr, strlen(hdr));
    if (!head_req && chunked) {
        /* uneven chunks, to cross record boundaries in odd places */
        for (size_t off = 0, step = 1000; ok && off < n; off += step, step = step * 3 % 17000 + 1) {
            size_t k = n - off < step ? n - off : step;
            snprintf(line, sizeof(line), "%zx\r\n", k);
            ok = write_all(fd, line, strlen(line)) && write_all(fd, body + off, k) &&
                 write_all(fd, "\r\n", 2);
        }
        ok = ok && write_all(fd, "0\r\n\r\n", 5);
    } else if (!head_req) {
        ok = write_all(fd, body, n);
    }
    free(body);
    return ok;
}

static size_t content_length(const char *head)
{
    char v[32];
    return e2e_head_value(head, "content-length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
}

static char *find_end_of_head(char *buf, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return buf + i;
    return NULL;
}

/* One request on the connection; false when the connection is done. */
static bool serve_one(e2e_upstream *u, int fd, char *buf, size_t *have)
{
    char *end;
    while ((end = find_end_of_head(buf, *have)) == NULL) {
        if (*have >= UP_HEAD_MAX)
            return false;
        ssize_t r = read_some(u, fd, buf + *have, UP_HEAD_MAX - *have);
        if (r <= 0) {
            if (*have != 0)
                incomplete(u);
            return false;
        }
        *have += (size_t)r;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    buf[hlen - 2] = '\0'; /* the head as a string, for the parsers */
    size_t blen = content_length(buf);
    uint8_t *body = malloc(blen + 1);
    size_t got = *have - hlen < blen ? *have - hlen : blen;
    memcpy(body, buf + hlen, got);
    while (got < blen) {
        ssize_t r = read_some(u, fd, body + got, blen - got);
        if (r <= 0) {
            incomplete(u);
            free(body);
            return false;
        }
        got += (size_t)r;
    }
    size_t used = hlen + (*have - hlen < blen ? *have - hlen : blen);
    record(u, buf, hlen - 2, body, blen);
    bool ok = respond(u, fd, buf);
    memmove(buf, buf + used, *have - used);
    *have -= used;
    free(body);
    return ok;
}

static void *conn_main(void *arg)
{
    up_conn *c = arg;
    char *buf = malloc(UP_HEAD_MAX + 1);
    size_t have = 0;
    while (serve_one(c->u, c->fd, buf, &have))
        ;
    close(c->fd);
    free(buf);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    e2e_upstream *u = arg;
    while (!atomic_load(&u->stop)) {
        struct pollfd pfd = {u->fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept(u->fd, NULL, NULL);
        if (fd < 0)
            continue;
        up_conn *c = malloc(sizeof(*c));
        c->u = u;
        c->fd = fd;
        pthread_mutex_lock(&u->mu);
        if (u->nconns < sizeof(u->conns) / sizeof(u->conns[0]) &&
            pthread_create(&u->conns[u->nconns], NULL, conn_main, c) == 0) {
            u->nconns++;
        } else {
            close(fd);
            free(c);
        }
        pthread_mutex_unlock(&u->mu);
    }
    return NULL;
}

int e2e_upstream_start(e2e_upstream *u)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int one = 1;
    u->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (u->fd < 0 || bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(u->fd, 64) != 0 || getsockname(u->fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    u->port = ntohs(sa.sin_port);
    pthread_mutex_init(&u->mu, NULL);
    atomic_store(&u->stop, false);
    return pthread_create(&u->tid, NULL, accept_main, u) == 0 ? 0 : -1;
}

void e2e_upstream_stop(e2e_upstream *u)
{
    atomic_store(&u->stop, true);
    pthread_join(u->tid, NULL);
    for (size_t i = 0; i < u->nconns; i++)
        pthread_join(u->conns[i], NULL);
    close(u->fd);
    for (size_t i = 0; i < u->nreqs; i++) {
        free(u->reqs[i].head);
        free(u->reqs[i].body);
    }
    pthread_mutex_destroy(&u->mu);
}

size_t e2e_upstream_count(e2e_upstream *u)
{
    pthread_mutex_lock(&u->mu);
    size_t n = u->nreqs;
    pthread_mutex_unlock(&u->mu);
    return n;
}

bool e2e_upstream_get(e2e_upstream *u, size_t i, e2e_upreq *out)
{
    bool ok = false;
    pthread_mutex_lock(&u->mu);
    if (i < u->nreqs) {
        out->head = strdup(u->reqs[i].head);
        out->body = malloc(u->reqs[i].body_len + 1);
        memcpy(out->body, u->reqs[i].body, u->reqs[i].body_len);
        out->body_len = u->reqs[i].body_len;
        ok = true;
    }
    pthread_mutex_unlock(&u->mu);
    return ok;
}
