/* demo-relay: a recording TCP relay for the networked demo (scripts/demo.sh)
 * and tests/net_nginx_test.c. Placed between a TLS-terminating proxy
 * (nginx) and httpa-gateway, it copies octets both ways unchanged and
 * writes them down, so that one can look at exactly what the proxy could
 * read and forwarded:
 *
 *   DIR/conn-NNNN.up     what the proxy sent to the gateway on connection NNNN
 *   DIR/conn-NNNN.down   what the gateway answered on it
 *
 * Files are written as the octets pass (no buffering), so they are
 * complete while a keep-alive connection is still open. Loopback only.
 * One thread per connection, at most --max-conns at once. SIGTERM or
 * SIGINT: stop accepting, close every connection, exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_CONNS_LIMIT 4096

typedef struct relay {
    int listen_fd;
    struct sockaddr_in to;
    const char *dir;
    size_t max_conns;
    atomic_size_t nconns;
    unsigned next_id;
} relay;

typedef struct relay_link {
    relay *r;
    int client, server;
    int up_file, down_file;
} link_t;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static bool write_all(int fd, const void *p, size_t n, bool sock)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copy what is readable on `from` to `to` and the record; false when
 * `from` is at its end (or failed). */
static bool pump(int from, int to, int record, char *buf)
{
    ssize_t n = recv(from, buf, BUF_SIZE, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (record >= 0 && !write_all(record, buf, (size_t)n, false))
        fprintf(stderr, "demo-relay: cannot write the capture: %s\n", strerror(errno));
    return write_all(to, buf, (size_t)n, true);
}

static void *link_main(void *arg)
{
    link_t *l = arg;
    char *buf = malloc(BUF_SIZE);
    bool up_open = true, down_open = true;
    while (buf != NULL && (up_open || down_open) && !stop_signal) {
        struct pollfd p[2] = {{l->client, up_open ? POLLIN : 0, 0},
                              {l->server, down_open ? POLLIN : 0, 0}};
        int r = poll(p, 2, 250);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (up_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !pump(l->client, l->server, l->up_file, buf)) {
            up_open = false;
            shutdown(l->server, SHUT_WR); /* pass the half-close on */
        }
        if (down_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !pump(l->server, l->client, l->down_file, buf)) {
            down_open = false;
            shutdown(l->client, SHUT_WR);
        }
        /* the gateway closed: nothing more can be answered */
        if (!down_open && up_open)
            break;
    }
    free(buf);
    close(l->client);
    close(l->server);
    close(l->up_file);
    close(l->down_file);
    atomic_fetch_sub(&l->r->nconns, 1);
    free(l);
    return NULL;
}

static int open_capture(const relay *r, unsigned id, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/conn-%04u.%s", r->dir, id, suffix);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
}

static void accept_one(relay *r)
{
    int client = accept(r->listen_fd, NULL, NULL);
    if (client < 0)
        return;
    if (atomic_load(&r->nconns) >= r->max_conns) {
        close(client);
        return;
    }
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server < 0 || connect(server, (const struct sockaddr *)&r->to, sizeof(r->to)) != 0) {
        fprintf(stderr, "demo-relay: cannot connect to the gateway: %s\n", strerror(errno));
        if (server >= 0)
            close(server);
        close(client);
        return;
    }
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    unsigned id = ++r->next_id;
    link_t *l = malloc(sizeof(*l));
    int up = open_capture(r, id, "up"), down = open_capture(r, id, "down");
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (l != NULL && up >= 0 && down >= 0) {
        *l = (link_t){r, client, server, up, down};
        atomic_fetch_add(&r->nconns, 1);
        if (pthread_create(&tid, &attr, link_main, l) == 0) {
            pthread_attr_destroy(&attr);
            return;
        }
        atomic_fetch_sub(&r->nconns, 1);
    }
    fprintf(stderr, "demo-relay: cannot relay a connection\n");
    pthread_attr_destroy(&attr);
    free(l);
    close(client);
    close(server);
    if (up >= 0)
        close(up);
    if (down >= 0)
        close(down);
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (*end != '\0' || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1 ||
        (ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

static int write_port_file(const char *path, int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char tmp[4096];
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0)
        return -1;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: demo-relay --to 127.0.0.1:PORT --capture-dir DIR\n"
          "                  [--listen 127.0.0.1:PORT] [--port-file FILE] [--max-conns N]\n"
          "Relays TCP on loopback and records both directions per connection:\n"
          "DIR/conn-NNNN.up (towards --to) and DIR/conn-NNNN.down.\n",
          f);
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0", *to = NULL, *port_file = NULL;
    relay r;
    memset(&r, 0, sizeof(r));
    r.max_conns = 256;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (v != NULL && strcmp(argv[i], "--listen") == 0) {
            listen_at = v;
        } else if (v != NULL && strcmp(argv[i], "--to") == 0) {
            to = v;
        } else if (v != NULL && strcmp(argv[i], "--capture-dir") == 0) {
            r.dir = v;
        } else if (v != NULL && strcmp(argv[i], "--port-file") == 0) {
            port_file = v;
        } else if (v != NULL && strcmp(argv[i], "--max-conns") == 0) {
            r.max_conns = strtoul(v, NULL, 10);
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    struct sockaddr_in sa;
    if (to == NULL || r.dir == NULL || parse_addr(to, &r.to) != 0 || parse_addr(listen_at, &sa) != 0 ||
        r.max_conns == 0 || r.max_conns > MAX_CONNS_LIMIT) {
        fprintf(stderr, "demo-relay: --to and --listen take 127.x.x.x:PORT; --capture-dir is required\n");
        usage(stderr);
        return 2;
    }
    int one = 1;
    r.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r.listen_fd < 0 || setsockopt(r.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(r.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(r.listen_fd, 256) != 0 ||
        (port_file != NULL && write_port_file(port_file, r.listen_fd) != 0)) {
        fprintf(stderr, "demo-relay: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    while (!stop_signal) {
        struct pollfd pfd = {r.listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, 250) > 0)
            accept_one(&r);
    }
    close(r.listen_fd);
    /* the links see stop_signal within 250 ms and close their sockets */
    for (int i = 0; i < 200 && atomic_load(&r.nconns) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    return 0;
}
