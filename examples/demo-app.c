/* demo-app: the unmodified HTTP application behind httpa-gateway in the
 * networked demo (scripts/demo.sh) and in tests/net_nginx_test.c. It knows
 * nothing about HTTPA: it is a tiny HTTP/1.1 JSON service on loopback that
 * tells the caller what it received.
 *
 *   POST <secrets path>  (default /.httpa/secrets; the gateway's AtSP
 *                        hand-over, docs/DEPLOYMENT.md "Secrets") accepted
 *                        only with X-Httpa-Kind: atsp; the secrets are kept in
 *                        memory per Attest Base, never printed
 *   GET  /download/N     N octets of a fixed pattern (octet i is
 *                        (i * 131 + (i >> 9)) mod 256), streamed
 *   anything else        a JSON echo: method, target, every field it saw,
 *                        the body's length and SHA-256 (the body is hashed
 *                        as it arrives, never kept), the X-Httpa-* view
 *                        (kind, Attest Base, sealed field names), and the
 *                        secrets provisioned into that Attest Base: name,
 *                        length and SHA-256 of the value, never the value
 *
 * One thread per connection (keep-alive), at most --max-conns of them.
 * Request bodies need Content-Length (the gateway always sends it).
 * SIGTERM or SIGINT: stop, close every connection, exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define HEAD_MAX (256 * 1024)     /* request line and fields */
#define SECRETS_BODY_MAX (1 << 20)
#define MAX_FIELDS 200
#define MAX_BASES 4096            /* Attest Bases with secrets; the oldest goes first */
#define MAX_SECRETS 32            /* per Attest Base */
#define IO_CHUNK 65536
#define MAX_CONNS_LIMIT 4096
#define DOWNLOAD_MAX ((uint64_t)1 << 40)

typedef struct secret {
    char *name;
    size_t len;
    uint8_t sha256[32];
} secret;

typedef struct base_secrets {
    char base_id[40];
    size_t n;
    secret s[MAX_SECRETS];
} base_secrets;

typedef struct app {
    int listen_fd;
    const char *secrets_path;
    size_t max_conns;
    pthread_mutex_t mu;           /* bases, conns */
    base_secrets *bases;          /* ring of MAX_BASES */
    size_t nbases, next_base;
    int *conns;                   /* open connection sockets, -1: free slot */
    atomic_size_t nconns;
} app;

typedef struct conn {
    app *a;
    int fd;
    size_t slot;
    char *buf;                    /* HEAD_MAX + 1 */
    size_t have;                  /* octets in buf */
} conn;

typedef struct field {
    const char *name, *value;
} field;

typedef struct request {
    char *method, *target, *version;
    field f[MAX_FIELDS];
    size_t nf;
    uint64_t content_length;
    bool keep_alive;
} request;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* ---- small helpers ---- */

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read more into c->buf; false on EOF, error or stop. */
static bool read_more(conn *c)
{
    for (;;) {
        if (stop_signal)
            return false;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int r = poll(&pfd, 1, 250);
        if (r < 0 && errno != EINTR)
            return false;
        if (r <= 0)
            continue;
        ssize_t n = recv(c->fd, c->buf + c->have, HEAD_MAX - c->have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        c->have += (size_t)n;
        return true;
    }
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char *field_value(const request *r, const char *name)
{
    for (size_t i = 0; i < r->nf; i++)
        if (strcasecmp(r->f[i].name, name) == 0)
            return r->f[i].value;
    return NULL;
}

static uint8_t pattern_at(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9));
}

/* ---- parsing ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Parse the head in place (head ends with "\r\n\r\n", NUL-terminated after
 * it). -1: malformed, -2: unsupported (Transfer-Encoding). */
static int parse_head(char *head, request *r)
{
    memset(r, 0, sizeof(*r));
    char *line = head, *eol = strstr(line, "\r\n");
    if (eol == NULL)
        return -1;
    *eol = '\0';
    r->method = line;
    char *sp = strchr(line, ' ');
    if (sp == NULL)
        return -1;
    *sp = '\0';
    r->target = sp + 1;
    sp = strchr(r->target, ' ');
    if (sp == NULL)
        return -1;
    *sp = '\0';
    r->version = sp + 1;
    if (strcmp(r->version, "HTTP/1.1") != 0 && strcmp(r->version, "HTTP/1.0") != 0)
        return -1;
    r->keep_alive = strcmp(r->version, "HTTP/1.1") == 0;
    for (line = eol + 2; (eol = strstr(line, "\r\n")) != NULL && eol != line; line = eol + 2) {
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line || r->nf == MAX_FIELDS)
            return -1;
        *colon = '\0';
        r->f[r->nf].name = line;
        r->f[r->nf].value = trim(colon + 1);
        r->nf++;
    }
    const char *v = field_value(r, "transfer-encoding");
    if (v != NULL)
        return -2;
    v = field_value(r, "content-length");
    if (v != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0)
            return -1;
        r->content_length = n;
    }
    v = field_value(r, "connection");
    if (v != NULL && strcasecmp(v, "close") == 0)
        r->keep_alive = false;
    if (v != NULL && strcasecmp(v, "keep-alive") == 0)
        r->keep_alive = true;
    return 0;
}

/* ---- answers ---- */

static bool reply(conn *c, const request *r, int status, const char *reason, const char *ctype,
                  const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     status, reason, ctype, len,
                     r != NULL && r->keep_alive ? "" : "Connection: close\r\n");
    bool head_only = r != NULL && strcmp(r->method, "HEAD") == 0;
    return send_all(c->fd, head, (size_t)n) && (head_only || send_all(c->fd, body, len));
}

static bool reply_json(conn *c, const request *r, int status, const char *reason, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: a final newline for terminals */
    bool ok = reply(c, r, status, reason, "application/json", s, n + 1);
    free(s);
    return ok;
}

static bool reply_error(conn *c, const request *r, int status, const char *reason, const char *why)
{
    return reply_json(c, r, status, reason, json_pack("{s:s}", "error", why));
}

/* Stream the request body through SHA-256; `keep` (may be NULL) receives
 * up to keep_cap octets of it. False if the connection ended early. */
static bool consume_body(conn *c, uint64_t len, uint8_t sha[32], char *keep, size_t keep_cap,
                         size_t *kept)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    uint64_t left = len;
    if (kept != NULL)
        *kept = 0;
    while (ok && left > 0) {
        if (c->have == 0 && !read_more(c)) {
            ok = false;
            break;
        }
        size_t k = c->have < left ? c->have : (size_t)left;
        ok = EVP_DigestUpdate(md, c->buf, k) == 1;
        if (keep != NULL && *kept < keep_cap) {
            size_t room = keep_cap - *kept < k ? keep_cap - *kept : k;
            memcpy(keep + *kept, c->buf, room);
            *kept += room;
        }
        memmove(c->buf, c->buf + k, c->have - k);
        c->have -= k;
        left -= k;
    }
    unsigned int n = 0;
    ok = ok && EVP_DigestFinal_ex(md, sha, &n) == 1 && n == 32;
    EVP_MD_CTX_free(md);
    return ok;
}

/* The secrets of one Attest Base, newest provisioning first found. */
static json_t *secrets_of(app *a, const char *base_id)
{
    json_t *arr = json_array();
    char h[65];
    if (base_id == NULL)
        return arr;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nbases; i++) {
        const base_secrets *b = &a->bases[i];
        if (strcmp(b->base_id, base_id) != 0)
            continue;
        for (size_t k = 0; k < b->n; k++) {
            hex(b->s[k].sha256, 32, h);
            json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "name", b->s[k].name, "length",
                                                 (json_int_t)b->s[k].len, "sha256", h));
        }
    }
    pthread_mutex_unlock(&a->mu);
    return arr;
}

static void base_clear(base_secrets *b)
{
    for (size_t k = 0; k < b->n; k++)
        free(b->s[k].name);
    memset(b, 0, sizeof(*b));
}

/* Keep the provisioned secrets as the gateway sent them:
 * {"base_id":"...","secrets":{"name":"<base64>",...}}. Only a digest of each
 * value is kept: the demo shows that the secret arrived, not what it is. */
static bool store_secrets(app *a, const char *json, size_t len, json_t **accepted)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *base_id = NULL;
    json_t *secrets = NULL;
    if (doc == NULL || json_unpack(doc, "{s:s,s:o}", "base_id", &base_id, "secrets", &secrets) != 0 ||
        !json_is_object(secrets) || strlen(base_id) >= sizeof(a->bases[0].base_id) ||
        json_object_size(secrets) > MAX_SECRETS) {
        json_decref(doc);
        return false;
    }
    base_secrets b;
    memset(&b, 0, sizeof(b));
    snprintf(b.base_id, sizeof(b.base_id), "%s", base_id);
    *accepted = json_array();
    const char *name;
    json_t *v;
    bool ok = true;
    json_object_foreach(secrets, name, v) {
        const char *b64 = json_string_value(v);
        size_t n = b64 != NULL ? strlen(b64) : 0;
        uint8_t *raw = malloc(n / 4 * 3 + 4);
        int got = raw != NULL && n % 4 == 0 ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n) : -1;
        if (got < 0) {
            free(raw);
            ok = false;
            break;
        }
        /* EVP_DecodeBlock counts the padding as zero octets */
        if (n >= 1 && b64[n - 1] == '=')
            got--;
        if (n >= 2 && b64[n - 2] == '=')
            got--;
        secret *s = &b.s[b.n++];
        s->name = strdup(name);
        s->len = (size_t)got;
        unsigned int hl = 0;
        ok = s->name != NULL && EVP_Digest(raw, (size_t)got, s->sha256, &hl, EVP_sha256(), NULL) == 1;
        OPENSSL_cleanse(raw, n / 4 * 3 + 4);
        free(raw);
        if (!ok)
            break;
        json_array_append_new(*accepted, json_string(name));
    }
    json_decref(doc);
    if (!ok) {
        base_clear(&b);
        json_decref(*accepted);
        *accepted = NULL;
        return false;
    }
    pthread_mutex_lock(&a->mu);
    base_secrets *slot = &a->bases[a->next_base];
    base_clear(slot);
    *slot = b;
    a->next_base = (a->next_base + 1) % MAX_BASES;
    if (a->nbases < MAX_BASES)
        a->nbases++;
    pthread_mutex_unlock(&a->mu);
    return true;
}

static bool serve_secrets(conn *c, request *r)
{
    const char *kind = field_value(r, "x-httpa-kind");
    char *body = malloc(SECRETS_BODY_MAX);
    uint8_t sha[32];
    size_t kept = 0;
    if (body == NULL || r->content_length > SECRETS_BODY_MAX ||
        !consume_body(c, r->content_length, sha, body, SECRETS_BODY_MAX, &kept)) {
        free(body);
        return false;
    }
    json_t *accepted = NULL;
    bool ok;
    /* only the gateway may provision, and only through an AtSP */
    if (strcmp(r->method, "POST") != 0 || kind == NULL || strcmp(kind, "atsp") != 0)
        ok = reply_error(c, r, 403, "Forbidden", "secrets are accepted only from an AtSP");
    else if (!store_secrets(c->a, body, kept, &accepted))
        ok = reply_error(c, r, 422, "Unprocessable Content", "malformed secrets");
    else
        ok = reply_json(c, r, 200, "OK", json_pack("{s:o}", "accepted", accepted));
    OPENSSL_cleanse(body, kept);
    free(body);
    return ok;
}

static bool serve_download(conn *c, request *r, const char *count)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(count, &end, 10);
    uint8_t sha[32];
    if (!consume_body(c, r->content_length, sha, NULL, 0, NULL))
        return false;
    if (*count < '0' || *count > '9' || *end != '\0' || errno != 0 || n > DOWNLOAD_MAX)
        return reply_error(c, r, 400, "Bad Request", "/download/N takes a count of octets");
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %llu\r\nCache-Control: no-store\r\n%s\r\n",
                      n, r->keep_alive ? "" : "Connection: close\r\n");
    if (!send_all(c->fd, head, (size_t)hl))
        return false;
    if (strcmp(r->method, "HEAD") == 0)
        return true;
    uint8_t *chunk = malloc(IO_CHUNK);
    bool ok = chunk != NULL;
    for (uint64_t off = 0; ok && off < n && !stop_signal; off += IO_CHUNK) {
        size_t k = n - off < IO_CHUNK ? (size_t)(n - off) : IO_CHUNK;
        for (size_t i = 0; i < k; i++)
            chunk[i] = pattern_at(off + i);
        ok = send_all(c->fd, chunk, k);
    }
    free(chunk);
    return ok && !stop_signal;
}

static bool serve_echo(conn *c, request *r)
{
    uint8_t sha[32];
    char h[65];
    if (!consume_body(c, r->content_length, sha, NULL, 0, NULL))
        return false;
    hex(sha, 32, h);
    json_t *fields = json_array();
    for (size_t i = 0; i < r->nf; i++)
        json_array_append_new(fields, json_pack("{s:s,s:s}", "name", r->f[i].name, "value",
                                                r->f[i].value));
    json_t *sealed = json_array();
    const char *s = field_value(r, "x-httpa-sealed");
    for (const char *p = s; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n > 0)
            json_array_append_new(sealed, json_stringn(p, n));
        p += n;
    }
    const char *kind = field_value(r, "x-httpa-kind"), *base = field_value(r, "x-httpa-base-id");
    json_t *j = json_pack("{s:{s:s,s:s,s:s},s:o,s:{s:I,s:s},s:{s:s?,s:s?,s:o},s:o}",
                          "received", "method", r->method, "target", r->target, "version",
                          r->version, "fields", fields, "body", "length",
                          (json_int_t)r->content_length, "sha256", h, "httpa", "kind", kind,
                          "base_id", base, "sealed", sealed, "secrets",
                          secrets_of(c->a, kind != NULL ? base : NULL));
    if (j == NULL)
        return false;
    return reply_json(c, r, 200, "OK", j);
}

/* One request; false when the connection is done. */
static bool serve_one(conn *c)
{
    char *end = NULL;
    size_t scanned = 0;
    for (;;) {
        c->buf[c->have] = '\0';
        end = c->have >= 4 ? strstr(c->buf + (scanned > 3 ? scanned - 3 : 0), "\r\n\r\n") : NULL;
        if (end != NULL)
            break;
        scanned = c->have;
        if (c->have == HEAD_MAX) {
            reply_error(c, NULL, 431, "Request Header Fields Too Large", "request head too large");
            return false;
        }
        if (!read_more(c))
            return false;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    char *head = malloc(hlen + 1);
    if (head == NULL)
        return false;
    memcpy(head, c->buf, hlen);
    head[hlen] = '\0';
    memmove(c->buf, c->buf + hlen, c->have - hlen);
    c->have -= hlen;

    request r;
    bool ok;
    int pr = parse_head(head, &r);
    if (pr != 0) { /* the rest of the connection cannot be framed: close it */
        (void)reply_error(c, NULL, pr == -2 ? 501 : 400, pr == -2 ? "Not Implemented" : "Bad Request",
                          pr == -2 ? "request bodies need Content-Length" : "malformed request");
        ok = false;
    } else if (strcmp(r.target, c->a->secrets_path) == 0)
        ok = serve_secrets(c, &r);
    else if (strncmp(r.target, "/download/", 10) == 0)
        ok = serve_download(c, &r, r.target + 10);
    else
        ok = serve_echo(c, &r);
    ok = ok && r.keep_alive;
    free(head);
    return ok;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    while (serve_one(c))
        ;
    pthread_mutex_lock(&c->a->mu);
    c->a->conns[c->slot] = -1;
    pthread_mutex_unlock(&c->a->mu);
    close(c->fd);
    atomic_fetch_sub(&c->a->nconns, 1);
    free(c->buf);
    free(c);
    return NULL;
}

/* ---- main ---- */

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
    if (*end != '\0' || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    /* the application sees plaintext: it listens on loopback only */
    return (ntohl(sa->sin_addr.s_addr) >> 24) == 127 ? 0 : -2;
}

static void accept_one(app *a)
{
    int fd = accept(a->listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    conn *c = calloc(1, sizeof(*c));
    char *buf = malloc(HEAD_MAX + 1);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_mutex_lock(&a->mu);
    size_t slot = a->max_conns;
    for (size_t i = 0; i < a->max_conns && c != NULL && buf != NULL; i++)
        if (a->conns[i] < 0) {
            slot = i;
            break;
        }
    if (slot < a->max_conns) {
        a->conns[slot] = fd;
        atomic_fetch_add(&a->nconns, 1);
    }
    pthread_mutex_unlock(&a->mu);
    if (slot == a->max_conns) { /* over the limit: shed it */
        close(fd);
        free(c);
        free(buf);
        return;
    }
    *c = (conn){.a = a, .fd = fd, .slot = slot, .buf = buf};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, conn_main, c) != 0) {
        pthread_mutex_lock(&a->mu);
        a->conns[slot] = -1;
        pthread_mutex_unlock(&a->mu);
        atomic_fetch_sub(&a->nconns, 1);
        close(fd);
        free(c);
        free(buf);
    }
    pthread_attr_destroy(&attr);
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
    fputs("usage: demo-app [--listen 127.0.0.1:PORT] [--port-file FILE]\n"
          "                [--secrets-path PATH] [--max-conns N]\n"
          "A tiny HTTP/1.1 JSON echo service for the httpa demo (loopback only).\n",
          f);
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:8080", *port_file = NULL;
    app a;
    memset(&a, 0, sizeof(a));
    a.secrets_path = "/.httpa/secrets";
    a.max_conns = 512;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (v != NULL && strcmp(argv[i], "--listen") == 0) {
            listen_at = v;
        } else if (v != NULL && strcmp(argv[i], "--port-file") == 0) {
            port_file = v;
        } else if (v != NULL && strcmp(argv[i], "--secrets-path") == 0) {
            a.secrets_path = v;
        } else if (v != NULL && strcmp(argv[i], "--max-conns") == 0) {
            a.max_conns = strtoul(v, NULL, 10);
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    struct sockaddr_in sa;
    int pr = parse_addr(listen_at, &sa);
    if (pr != 0 || a.max_conns == 0 || a.max_conns > MAX_CONNS_LIMIT) {
        fprintf(stderr, "demo-app: %s\n", pr == -2 ? "--listen must be a loopback address"
                                                   : "bad --listen or --max-conns");
        return 2;
    }
    a.bases = calloc(MAX_BASES, sizeof(*a.bases));
    a.conns = malloc(a.max_conns * sizeof(*a.conns));
    if (a.bases == NULL || a.conns == NULL || pthread_mutex_init(&a.mu, NULL) != 0)
        return 1;
    for (size_t i = 0; i < a.max_conns; i++)
        a.conns[i] = -1;
    int one = 1;
    a.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a.listen_fd < 0 || setsockopt(a.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(a.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(a.listen_fd, 512) != 0 ||
        (port_file != NULL && write_port_file(port_file, a.listen_fd) != 0)) {
        fprintf(stderr, "demo-app: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "demo-app: listening on %s\n", listen_at);

    while (!stop_signal) {
        struct pollfd pfd = {a.listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, 250) > 0)
            accept_one(&a);
    }
    close(a.listen_fd);
    /* wake every connection thread, then give them a moment to finish */
    pthread_mutex_lock(&a.mu);
    for (size_t i = 0; i < a.max_conns; i++)
        if (a.conns[i] >= 0)
            shutdown(a.conns[i], SHUT_RDWR);
    pthread_mutex_unlock(&a.mu);
    for (int i = 0; i < 200 && atomic_load(&a.nconns) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    if (atomic_load(&a.nconns) != 0)
        return 0; /* threads still blocked in a send: the process ends them */
    for (size_t i = 0; i < MAX_BASES; i++)
        base_clear(&a.bases[i]);
    free(a.bases);
    free(a.conns);
    pthread_mutex_destroy(&a.mu);
    return 0;
}
