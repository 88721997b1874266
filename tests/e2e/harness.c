/* The gateway process, raw sockets, and the HTTPA client over libcurl. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

/* The sim attestation key seed every test gateway uses. */
#define E2E_SIM_SEED "8f1e0c6a3b2d4c5e8f70112233445566778899aabbccddeeff00112233445566"

static void sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* ---- the gateway process ---- */

const char *e2e_gw_path(void)
{
    static char path[PATH_MAX]; /* computed once per test process */
    const char *env = getenv("HTTPA_GATEWAY");
    if (env != NULL)
        return env;
    if (path[0] == '\0') {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return "httpa-gateway";
        self[n] = '\0';
        /* build/tests/net_gateway_test -> build/programs/httpa-gateway */
        snprintf(path, sizeof(path), "%s/../programs/httpa-gateway", dirname(self));
    }
    return path;
}

static int read_port(const char *file)
{
    FILE *f = fopen(file, "r");
    int port = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%d", &port) != 1)
        port = 0;
    fclose(f);
    return port;
}

static void sim_pub(uint8_t pub[32])
{
    static const char hex[] = E2E_SIM_SEED;
    uint8_t seed[32];
    httpa_sign_key *k;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        sscanf(&hex[2 * i], "%2x", &v);
        seed[i] = (uint8_t)v;
    }
    if (httpa_sign_key_new(HTTPA_ED25519, seed, 32, pub, &k) == HTTPA_OK)
        httpa_sign_key_free(k);
}

/* fork and exec argv, then wait until it writes its port into dir/port. */
static int spawn(e2e_gw *g, const char *const *argv)
{
    char port_file[128], supp[128], lsan[256];
    snprintf(port_file, sizeof(port_file), "%s/port", g->dir);
    /* Sanitizer builds: libh2o keeps per-thread allocator caches (and its
     * loops) until exit; only leaks outside libh2o count. */
    snprintf(supp, sizeof(supp), "%s/lsan.supp", g->dir);
    FILE *sf = fopen(supp, "w");
    if (sf != NULL) {
        fputs("leak:libh2o-evloop.so\n", sf);
        fclose(sf);
    }
    snprintf(lsan, sizeof(lsan), "suppressions=%s:print_suppressions=0", supp);

    g->pid = fork();
    if (g->pid == 0) {
        setenv("LSAN_OPTIONS", lsan, 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (getenv("E2E_VERBOSE") == NULL && devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500 && g->pid > 0; i++) { /* up to 10 s (sanitizer builds) */
        if ((g->port = read_port(port_file)) > 0)
            return 0;
        if (!e2e_gw_alive(g))
            break;
        sleep_ms(20);
    }
    return -1;
}

static int make_dir(e2e_gw *g)
{
    memset(g, 0, sizeof(*g));
    strcpy(g->dir, "/tmp/httpa-e2e-XXXXXX");
    return mkdtemp(g->dir) != NULL ? 0 : -1;
}

int e2e_gw_start(e2e_gw *g, const char *upstream, const char *const *extra)
{
    char port_file[128], log_file[128];
    const char *argv[64];
    size_t n = 0;

    if (make_dir(g) != 0)
        return -1;
    snprintf(port_file, sizeof(port_file), "%s/port", g->dir);
    snprintf(log_file, sizeof(log_file), "%s/access.log", g->dir);
    const char *base[] = {e2e_gw_path(), "--tee", "sim", "--sim-seed", E2E_SIM_SEED, "--upstream",
                          upstream, "--listen", "127.0.0.1:0", "--port-file", port_file,
                          "--threads", "2", "--access-log", log_file, "--upstream-timeout", "5"};
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        argv[n++] = base[i];
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    sim_pub(g->pub);
    return spawn(g, argv);
}

static bool read_hex32(const char *file, uint8_t out[32])
{
    char hex[80] = "";
    FILE *f = fopen(file, "r");
    bool ok = f != NULL && fgets(hex, sizeof(hex), f) != NULL && strlen(hex) >= 64;
    for (size_t i = 0; ok && i < 32; i++) {
        unsigned v;
        ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
        out[i] = (uint8_t)v;
    }
    if (f != NULL)
        fclose(f);
    return ok;
}

int e2e_embed_start(e2e_gw *g)
{
    char exe[PATH_MAX], self[PATH_MAX], port_file[128], pub_file[128];
    if (make_dir(g) != 0)
        return -1;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(exe, sizeof(exe), "%s/../examples/h2o-embed", dirname(self));
    snprintf(port_file, sizeof(port_file), "%s/port", g->dir);
    snprintf(pub_file, sizeof(pub_file), "%s/pub", g->dir);
    const char *argv[] = {exe, "--port", "0", "--port-file", port_file, "--sim-pubkey-out",
                          pub_file, NULL};
    if (spawn(g, argv) != 0)
        return -1;
    for (int i = 0; i < 100 && !read_hex32(pub_file, g->pub); i++)
        sleep_ms(20);
    return read_hex32(pub_file, g->pub) ? 0 : -1;
}

bool e2e_gw_alive(e2e_gw *g)
{
    int st;
    return g->pid > 0 && waitpid(g->pid, &st, WNOHANG) == 0;
}

static int wait_exit(pid_t pid, int ms)
{
    int st;
    for (int t = 0; t < ms; t += 20) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0)
            return -1;
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int e2e_gw_stop(e2e_gw *g)
{
    char cmd[128];
    if (g->pid <= 0)
        return -1;
    kill(g->pid, SIGTERM);
    int rc = wait_exit(g->pid, 15000);
    g->pid = 0;
    snprintf(cmd, sizeof(cmd), "%s/port", g->dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/access.log", g->dir);
    if (getenv("E2E_KEEP_LOG") == NULL)
        unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/lsan.supp", g->dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/pub", g->dir);
    unlink(cmd);
    rmdir(g->dir);
    return rc;
}

int e2e_gw_run(const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = e2e_gw_path();
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (getenv("E2E_VERBOSE") == NULL && devnull >= 0) {
            dup2(devnull, STDERR_FILENO);
            dup2(devnull, STDOUT_FILENO);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid > 0 ? wait_exit(pid, 15000) : -1;
}

/* ---- raw sockets ---- */

ssize_t e2e_raw(int port, const void *req, size_t len, char *resp, size_t cap, int timeout_ms,
                bool close_early)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *p = req;
    size_t left = len;
    while (left > 0) {
        ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the peer may close on purpose: read what it said */
        p += w;
        left -= (size_t)w;
    }
    if (close_early) {
        close(fd);
        return 0;
    }
    size_t got = 0;
    while (got < cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, resp + got, cap - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (ssize_t)got;
}

/* ---- the HTTPA client ---- */

void e2e_resp_init(e2e_resp *r)
{
    memset(r, 0, sizeof(*r));
    httpa_msg_init_response(&r->msg, 0);
    httpa_buf_init(&r->body, 64 << 20);
}

void e2e_resp_free(e2e_resp *r)
{
    httpa_msg_free(&r->msg);
    httpa_buf_free(&r->body);
}

void e2e_client_init(e2e_client *c, const e2e_gw *g, long version)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->url, sizeof(c->url), "%s://127.0.0.1:%d", g->tls ? "https" : "http", g->port);
    c->version = version;
    httpa_sim_verifier_init(&c->verifier, g->pub);
}

void e2e_client_free(e2e_client *c)
{
    if (c->base != NULL)
        httpa_client_base_release(c->base);
    c->base = NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    e2e_resp *r = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new (maybe final) response */
        httpa_msg_free(&r->msg);
        httpa_msg_init_response(&r->msg, 0);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (httpa_msg_add(&r->msg, p, nl, v, (size_t)(end - v)) != HTTPA_OK)
        return 0;
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    e2e_resp *r = arg;
    return httpa_buf_append(&r->body, p, size * n) == HTTPA_OK ? size * n : 0;
}

static struct curl_slist *header_list(const httpa_msg *req)
{
    struct curl_slist *list = NULL;
    char line[70000];
    bool has_ctype = httpa_msg_find(req, "content-type", 12) != NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const httpa_header *h = &req->headers[i];
        if (httpa_name_eq(h->name, h->name_len, "content-length", 14) ||
            httpa_name_eq(h->name, h->name_len, "transfer-encoding", 17))
            continue; /* curl frames the body itself */
        snprintf(line, sizeof(line), "%.*s: %.*s", (int)h->name_len, h->name, (int)h->value_len,
                 h->value);
        list = curl_slist_append(list, line);
    }
    list = curl_slist_append(list, "Expect:");
    if (!has_ctype)
        list = curl_slist_append(list, "Content-Type:");
    return list;
}

int e2e_send(const e2e_client *c, const httpa_msg *req, httpa_span body, e2e_resp *out)
{
    char url[8192];
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    snprintf(url, sizeof(url), "%s%.*s", c->url, (int)req->target_len, req->target);
    char method[32];
    snprintf(method, sizeof(method), "%.*s", (int)req->method_len, req->method);
    struct curl_slist *hl = header_list(req);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, c->version);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* the test's self-signed certificate: TLS here is per hop, HTTPA is the
     * end-to-end authentication */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    if (getenv("E2E_CURL_VERBOSE") != NULL)
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    if (body.len != 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.len ? (const char *)body.base : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &out->http_version);
    out->msg.status = (int)out->status;
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK && getenv("E2E_CURL_VERBOSE") != NULL)
        fprintf(stderr, "e2e: curl: %s\n", curl_easy_strerror(rc));
    return rc == CURLE_OK ? 0 : -1;
}

httpa_err e2e_mutual_handshake(e2e_client *c, httpa_attester *att, e2e_resp *resp)
{
    httpa_client_config cfg = {.verifier = &c->verifier.base, .allow_sim = true, .fresh = true,
                               .attester = att};
    httpa_client_hs *hs = NULL;
    httpa_msg req;
    int64_t now = (int64_t)time(NULL);
    e2e_client_free(c);
    httpa_msg_init_request(&req);
    httpa_err e = httpa_client_hs_start(&cfg, now, &req, &hs);
    if (e == HTTPA_OK && e2e_send(c, &req, HTTPA_SPAN(NULL, 0), resp) != 0)
        e = HTTPA_ERR_NETWORK;
    if (e == HTTPA_OK)
        e = httpa_client_hs_finish(hs, &resp->msg, httpa_buf_span(&resp->body), now, &c->base);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    return e;
}

httpa_err e2e_handshake(e2e_client *c)
{
    httpa_client_config cfg = {.verifier = &c->verifier.base, .allow_sim = true};
    httpa_client_hs *hs;
    httpa_msg req;
    e2e_resp resp;
    int64_t now = (int64_t)time(NULL);

    e2e_client_free(c); /* a new base replaces the old one */
    httpa_msg_init_request(&req);
    e2e_resp_init(&resp);
    httpa_err e = httpa_client_hs_start(&cfg, now, &req, &hs);
    if (e != HTTPA_OK) {
        httpa_msg_free(&req);
        e2e_resp_free(&resp);
        return e;
    }
    if (e2e_send(c, &req, HTTPA_SPAN(NULL, 0), &resp) != 0)
        e = HTTPA_ERR_NETWORK;
    else
        e = httpa_client_hs_finish(hs, &resp.msg, httpa_buf_span(&resp.body), now, &c->base);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    e2e_resp_free(&resp);
    return e;
}

httpa_err e2e_protected(e2e_client *c, httpa_msg *req, httpa_span body,
                        const httpa_seal_opts *opts, e2e_tamper tamper, void *arg,
                        e2e_resp *out)
{
    httpa_client_txn *t;
    httpa_buf wire, plain;
    httpa_seal_opts o = *opts;
    o.has_body = body.len != 0 || opts->has_body;
    o.content_length = body.len;
    httpa_err e = httpa_client_protect(c->base, req, &o, &t);
    if (e != HTTPA_OK)
        return e;
    httpa_buf_init(&wire, 64 << 20);
    httpa_buf_init(&plain, 64 << 20);
    if (o.has_body)
        e = httpa_client_txn_seal(t, body, true, &wire);
    if (e == HTTPA_OK && tamper != NULL)
        tamper(req, &wire, arg);
    if (e == HTTPA_OK && e2e_send(c, req, httpa_buf_span(&wire), out) != 0)
        e = HTTPA_ERR_NETWORK;
    if (e == HTTPA_OK)
        e = httpa_client_txn_response(t, &out->msg);
    if (e == HTTPA_OK) {
        e = httpa_client_txn_body(t, httpa_buf_span(&out->body), true, &plain);
        httpa_buf_reset(&out->body);
        if (e == HTTPA_OK)
            e = httpa_buf_append(&out->body, plain.base, plain.len);
    }
    httpa_client_txn_free(t);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    return e;
}

const char *e2e_attest_error(const e2e_resp *r)
{
    const httpa_header *h = httpa_msg_find(&r->msg, "attest-error", 12);
    return h != NULL ? h->value : "";
}
