/* Child processes, templates, certificates and the tampering relay for the
 * proxy tests (proxy.h). The including test defines _DEFAULT_SOURCE first
 * (wait4). */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
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
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy.h"

#define PX_HEAD_MAX (256 * 1024)
#define PX_IO (64 * 1024)

static void px_sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static double px_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- files and paths ---- */

const char *px_build_path(const char *rel, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", rel);
        return out;
    }
    self[n] = '\0';
    /* build/tests/net_x_test -> build/<rel> */
    snprintf(out, cap, "%s/../%s", dirname(self), rel);
    return out;
}

const char *px_source_path(const char *rel, char *out, size_t cap)
{
    const char *env = getenv("HTTPA_SOURCE_DIR");
    if (env != NULL) {
        snprintf(out, cap, "%s/%s", env, rel);
        return out;
    }
    /* this file is <source>/tests/e2e/proxy.c */
    char here[PATH_MAX];
    snprintf(here, sizeof(here), "%s", __FILE__);
    char *cut = strstr(here, "/tests/e2e/proxy.c");
    if (cut != NULL)
        *cut = '\0';
    else
        snprintf(here, sizeof(here), ".");
    int n = snprintf(out, cap, "%s/%s", here, rel);
    if (n < 0 || (size_t)n >= cap)
        out[0] = '\0';
    return out;
}

char *px_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap + 1);
    while (s != NULL) {
        size_t r = fread(s + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        char *t = realloc(s, 2 * cap + 1);
        if (t == NULL) {
            free(s);
            s = NULL;
            break;
        }
        s = t;
        cap *= 2;
    }
    fclose(f);
    if (s == NULL)
        return NULL;
    s[n] = '\0';
    if (len != NULL)
        *len = n;
    return s;
}

bool px_write_file(const char *path, const void *p, size_t n, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return false;
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            close(fd);
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return close(fd) == 0;
}

size_t px_count(const char *s, const char *needle)
{
    size_t n = 0, m = strlen(needle);
    for (const char *p = s; m != 0 && (p = strstr(p, needle)) != NULL; p += m)
        n++;
    return n;
}

char *px_wait_log(const char *path, const char *needle, size_t count, size_t *len)
{
    size_t n = 0;
    char *text = NULL;
    for (int t = 0; t <= 5000; t += 20) {
        free(text);
        text = px_read_file(path, &n);
        if (text != NULL && px_count(text, needle) >= count)
            break;
        px_sleep_ms(20);
    }
    if (text == NULL) {
        text = calloc(1, 1);
        n = 0;
    }
    if (len != NULL)
        *len = n;
    return text;
}

static void rmtree_depth(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    struct stat st;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
            rmtree_depth(path, depth - 1);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void px_rmtree(const char *dir)
{
    if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0) /* only what a test made */
        return;
    if (getenv("E2E_KEEP_DIR") != NULL) {
        fprintf(stderr, "e2e: kept %s\n", dir);
        return;
    }
    rmtree_depth(dir, 4);
}

bool px_contains(const void *hay, size_t n, const void *needle, size_t m)
{
    if (m == 0)
        return true;
    const uint8_t *h = hay, *nd = needle;
    for (size_t i = 0; i + m <= n; i++) {
        const uint8_t *p = memchr(h + i, nd[0], n - m + 1 - i);
        if (p == NULL)
            return false;
        i = (size_t)(p - h);
        if (memcmp(p, nd, m) == 0)
            return true;
    }
    return false;
}

bool px_icontains(const void *hay, size_t n, const char *needle)
{
    const char *h = hay;
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(h + i, needle, m) == 0)
            return true;
    return false;
}

char *px_subst(const char *tmpl, const char *const *pairs)
{
    size_t cap = strlen(tmpl) + 1, n = 0;
    for (size_t k = 0; pairs[k] != NULL && pairs[k + 1] != NULL; k += 2)
        cap += 64 * strlen(pairs[k + 1]); /* at most 64 uses of each */
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (const char *p = tmpl; *p != '\0';) {
        bool done = false;
        for (size_t k = 0; *p == '@' && pairs[k] != NULL && pairs[k + 1] != NULL; k += 2) {
            size_t kl = strlen(pairs[k]), vl = strlen(pairs[k + 1]);
            if (strncmp(p, pairs[k], kl) == 0 && n + vl < cap) {
                memcpy(out + n, pairs[k + 1], vl);
                n += vl;
                p += kl;
                done = true;
                break;
            }
        }
        if (!done && n + 1 < cap)
            out[n++] = *p++;
        else if (!done)
            break;
    }
    out[n] = '\0';
    return out;
}

/* ---- processes ---- */

bool px_sanitized(void)
{
    const char *s = getenv("HTTPA_SANITIZE_BUILD");
    return s != NULL && s[0] != '\0' && strcmp(s, "0") != 0;
}

pid_t px_spawn(const char *const *argv, const char *out_file, const char *err_file)
{
    /* the suppression file goes beside the stderr file */
    char supp[PATH_MAX], where[PATH_MAX], lsan[PATH_MAX + 64] = "";
    if (err_file != NULL) {
        snprintf(where, sizeof(where), "%s", err_file);
        snprintf(supp, sizeof(supp), "%s/lsan.supp", dirname(where));
        px_write_file(supp, "leak:libh2o-evloop.so\n", 22, 0644);
        snprintf(lsan, sizeof(lsan), "suppressions=%s:print_suppressions=0", supp);
    }
    bool verbose = getenv("E2E_VERBOSE") != NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (lsan[0] != '\0')
            setenv("LSAN_OPTIONS", lsan, 1);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, STDIN_FILENO);
        const char *files[2] = {out_file, err_file};
        for (int k = 0; k < 2; k++) {
            int fd = files[k] != NULL ? open(files[k], O_WRONLY | O_CREAT | O_TRUNC, 0644)
                     : verbose ? -1 : open("/dev/null", O_WRONLY);
            if (fd >= 0)
                dup2(fd, k == 0 ? STDOUT_FILENO : STDERR_FILENO);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

bool px_alive(pid_t pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

static int px_wait_exit(pid_t pid, int ms, struct rusage *ru)
{
    int st;
    for (int t = 0; t <= ms; t += 10) {
        pid_t r = ru != NULL ? wait4(pid, &st, WNOHANG, ru) : waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0)
            return -1;
        px_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    if (ru != NULL)
        wait4(pid, &st, 0, ru);
    else
        waitpid(pid, &st, 0);
    return -1;
}

int px_stop(pid_t *pid, int sig, int ms)
{
    if (*pid <= 0)
        return -1;
    kill(*pid, sig);
    int rc = px_wait_exit(*pid, ms, NULL);
    *pid = 0;
    return rc;
}

int px_wait_port_file(const char *path, pid_t pid, int ms)
{
    for (int t = 0; t <= ms; t += 20) {
        FILE *f = fopen(path, "r");
        int port = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0)
            return port;
        if (!px_alive(pid))
            return -1;
        px_sleep_ms(20);
    }
    return -1;
}

static int px_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

bool px_wait_listen(int port, pid_t pid, int ms)
{
    for (int t = 0; t <= ms; t += 20) {
        int fd = px_connect(port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        if (!px_alive(pid))
            return false;
        px_sleep_ms(20);
    }
    return false;
}

int px_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

long px_vmhwm_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

/* ---- certificate ---- */

bool px_make_cert(const char *cert, const char *key, const char *combined)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    bool ok = pk != NULL && x != NULL;
    if (ok) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
        X509_set_pubkey(x, pk);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                                                  "IP:127.0.0.1,DNS:localhost");
        X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        ok = san != NULL && bc != NULL && X509_add_ext(x, san, -1) == 1 && X509_add_ext(x, bc, -1) == 1 &&
             X509_sign(x, pk, EVP_sha256()) > 0;
        X509_EXTENSION_free(san);
        X509_EXTENSION_free(bc);
    }
    const char *files[3] = {cert, key, combined};
    for (int k = 0; ok && k < 3; k++) {
        if (files[k] == NULL)
            continue;
        int fd = open(files[k], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, k == 0 ? 0644 : 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        ok = f != NULL && (k == 1 || PEM_write_X509(f, x) == 1) &&
             (k == 0 || PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1);
        if (f != NULL)
            ok = fclose(f) == 0 && ok;
        else if (fd >= 0)
            close(fd);
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    return ok;
}

/* ---- demo-app and demo-relay ---- */

int px_app_start(px_child *c, const char *dir, const char *const *extra)
{
    char exe[PATH_MAX], port_file[PATH_MAX], err_file[PATH_MAX];
    const char *argv[24];
    size_t n = 0;
    px_build_path("examples/demo-app", exe, sizeof(exe));
    snprintf(port_file, sizeof(port_file), "%s/app.port", dir);
    snprintf(err_file, sizeof(err_file), "%s/app.err", dir);
    unlink(port_file);
    argv[n++] = exe;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 22; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    c->pid = px_spawn(argv, NULL, err_file);
    c->port = c->pid > 0 ? px_wait_port_file(port_file, c->pid, 10000) : -1;
    return c->port > 0 ? 0 : -1;
}

int px_relay_start(px_child *c, const char *dir, int to_port, const char *capture_dir)
{
    char exe[PATH_MAX], port_file[PATH_MAX], err_file[PATH_MAX], to[32];
    px_build_path("examples/demo-relay", exe, sizeof(exe));
    snprintf(port_file, sizeof(port_file), "%s/relay.port", dir);
    snprintf(err_file, sizeof(err_file), "%s/relay.err", dir);
    snprintf(to, sizeof(to), "127.0.0.1:%d", to_port);
    unlink(port_file);
    mkdir(capture_dir, 0700);
    const char *argv[] = {exe, "--to", to, "--capture-dir", capture_dir, "--port-file", port_file,
                          NULL};
    c->pid = px_spawn(argv, NULL, err_file);
    c->port = c->pid > 0 ? px_wait_port_file(port_file, c->pid, 10000) : -1;
    return c->port > 0 ? 0 : -1;
}

char *px_capture(const char *capture_dir, const char *suffix, size_t *len)
{
    size_t n = 0, cap = 1 << 16;
    char *all = malloc(cap + 1);
    char path[PATH_MAX];
    /* files are numbered from 1 in the order the connections came */
    for (unsigned i = 1; all != NULL && i < 100000; i++) {
        size_t k;
        snprintf(path, sizeof(path), "%s/conn-%04u.%s", capture_dir, i, suffix);
        char *one = px_read_file(path, &k);
        if (one == NULL)
            break;
        if (n + k > cap) {
            while (n + k > cap)
                cap *= 2;
            char *t = realloc(all, cap + 1);
            if (t == NULL) {
                free(one);
                free(all);
                return NULL;
            }
            all = t;
        }
        memcpy(all + n, one, k);
        n += k;
        free(one);
    }
    if (all != NULL)
        all[n] = '\0';
    *len = n;
    return all;
}

/* ---- nginx and HAProxy ---- */

static const char *px_exe(const char *env_name, const char *dflt)
{
    const char *env = getenv(env_name);
    const char *p = env != NULL ? env : dflt;
    return access(p, X_OK) == 0 ? p : NULL;
}

const char *px_nginx_path(void)
{
    return px_exe("HTTPA_NGINX", "/usr/sbin/nginx");
}

const char *px_haproxy_path(void)
{
    return px_exe("HTTPA_HAPROXY", "/usr/sbin/haproxy");
}

/* Write docs/examples/<tmpl> with the placeholders replaced (LISTEN is
 * added here, on a free port) to <prefix>/<conf>, then run argv until it
 * listens. The port may be taken between px_free_port and the bind: retry. */
static int px_proxy_start(px_proxy *n, const char *prefix, const char *tmpl_name, const char *conf_name,
                          const char *listen_name, const char *const *pairs, const char *const *argv)
{
    char tmpl_path[PATH_MAX], conf[PATH_MAX], err[PATH_MAX], listen_at[32];
    char *tmpl = px_read_file(px_source_path(tmpl_name, tmpl_path, sizeof(tmpl_path)), NULL);
    memset(n, 0, sizeof(*n));
    snprintf(n->prefix, sizeof(n->prefix), "%s", prefix);
    if (argv[0] == NULL || tmpl == NULL) {
        free(tmpl);
        return -1;
    }
    snprintf(conf, sizeof(conf), "%s/%s", prefix, conf_name);
    snprintf(err, sizeof(err), "%s/%s.stderr", prefix, conf_name);
    for (int attempt = 0; attempt < 5; attempt++) {
        const char *all[32];
        size_t k = 0;
        n->port = px_free_port();
        snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", n->port);
        all[k++] = listen_name;
        all[k++] = listen_at;
        for (size_t i = 0; pairs[i] != NULL && k < 30; i++)
            all[k++] = pairs[i];
        all[k] = NULL;
        char *text = px_subst(tmpl, all);
        bool ok = text != NULL && strchr(text, '@') == NULL && /* every placeholder replaced */
                  px_write_file(conf, text, strlen(text), 0644);
        free(text);
        if (!ok)
            break;
        n->pid = px_spawn(argv, NULL, err);
        if (n->pid > 0 && px_wait_listen(n->port, n->pid, 10000)) {
            free(tmpl);
            return 0;
        }
        px_stop(&n->pid, SIGTERM, 5000);
    }
    free(tmpl);
    return -1;
}

int px_nginx_start(px_proxy *n, const char *prefix, const char *cert, const char *key,
                   const char *gw0, const char *gw1)
{
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/nginx.conf", prefix);
    const char *pairs[] = {"@PREFIX@", prefix, "@CERT@", cert, "@KEY@", key,
                           "@GATEWAY_0@", gw0, "@GATEWAY_1@", gw1, NULL};
    const char *argv[] = {px_nginx_path(), "-p", prefix, "-c", conf, NULL};
    return px_proxy_start(n, prefix, "docs/examples/nginx-httpa.conf", "nginx.conf", "@LISTEN@",
                          pairs, argv);
}

int px_haproxy_start(px_proxy *n, const char *prefix, const char *pem, const char *gw0,
                     const char *gw1)
{
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/haproxy.cfg", prefix);
    const char *pairs[] = {"@PEM@", pem, "@GATEWAY_0@", gw0, "@GATEWAY_1@", gw1, NULL};
    /* -db: foreground, no daemon */
    const char *argv[] = {px_haproxy_path(), "-db", "-f", conf, NULL};
    return px_proxy_start(n, prefix, "docs/examples/haproxy-httpa.cfg", "haproxy.cfg", "@LISTEN@",
                          pairs, argv);
}

int px_proxy_stop(px_proxy *n)
{
    /* SIGTERM: nginx's fast shutdown (the master waits for its workers),
     * HAProxy's hard stop */
    return n->pid > 0 ? px_stop(&n->pid, SIGTERM, 10000) : 0;
}

/* ---- the httpa command ---- */

void px_httpa(px_cli *r, const char *dir, const char *const *args, px_sink_fn sink, void *arg,
              int timeout_s)
{
    char exe[PATH_MAX], out_file[PATH_MAX], err_file[PATH_MAX];
    const char *argv[64];
    size_t n = 0;
    int pfd[2] = {-1, -1};
    memset(r, 0, sizeof(*r));
    px_build_path("programs/httpa", exe, sizeof(exe));
    snprintf(out_file, sizeof(out_file), "%s/httpa.out", dir);
    snprintf(err_file, sizeof(err_file), "%s/httpa.err", dir);
    argv[n++] = exe;
    for (size_t i = 0; args[i] != NULL && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (sink != NULL && pipe(pfd) != 0) {
        r->code = -1;
        return;
    }
    double t0 = px_now();
    pid_t pid = fork();
    if (pid == 0) {
        char supp[PATH_MAX], lsan[PATH_MAX + 64];
        snprintf(supp, sizeof(supp), "%s/lsan.supp", dir);
        px_write_file(supp, "leak:libh2o-evloop.so\n", 22, 0644);
        snprintf(lsan, sizeof(lsan), "suppressions=%s:print_suppressions=0", supp);
        setenv("LSAN_OPTIONS", lsan, 1);
        int out = sink != NULL ? pfd[1] : open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0)
            dup2(out, STDOUT_FILENO);
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        if (pfd[0] >= 0)
            close(pfd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    if (sink != NULL) {
        close(pfd[1]);
        uint8_t *buf = malloc(PX_IO);
        double deadline = t0 + timeout_s;
        while (buf != NULL && px_now() < deadline) {
            struct pollfd p = {pfd[0], POLLIN, 0};
            if (poll(&p, 1, 200) <= 0)
                continue;
            ssize_t k = read(pfd[0], buf, PX_IO);
            if (k <= 0)
                break;
            sink(arg, buf, (size_t)k);
        }
        free(buf);
        close(pfd[0]);
    }
    double left = t0 + timeout_s - px_now();
    r->code = pid > 0 ? px_wait_exit(pid, left > 0 ? (int)(left * 1000) : 0, &ru) : -1;
    r->seconds = px_now() - t0;
    r->maxrss_kb = ru.ru_maxrss;
    if (sink == NULL)
        r->out = px_read_file(out_file, &r->out_len);
    r->err = px_read_file(err_file, NULL);
    if (r->out == NULL)
        r->out = calloc(1, 1);
    if (r->err == NULL)
        r->err = calloc(1, 1);
    if (getenv("E2E_VERBOSE") != NULL)
        fprintf(stderr, "e2e: httpa exit %d, %.2f s, max RSS %ld KiB\n%s", r->code, r->seconds,
                r->maxrss_kb, r->err);
}

void px_cli_free(px_cli *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

/* ---- the tampering relay ---- */

static void buf_add(px_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->max)
        return; /* recording is bounded; relaying is not */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *t = realloc(b->p, cap);
        if (t == NULL)
            return;
        b->p = t;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

enum { ST_HEAD, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF, ST_TRAILER, ST_TO_EOF };

/* One direction of one connection: HTTP/1.1 framing, enough to find field
 * values and body offsets (Content-Length and chunked bodies). */
typedef struct px_dir {
    bool response;
    int state;
    char *head;               /* PX_HEAD_MAX */
    size_t hlen;
    uint64_t left;            /* octets left in the body or chunk */
    uint64_t off;             /* body offset of the next octet */
    bool target;              /* flip a body octet of this message */
    char line[128];
    size_t llen;
    uint8_t *out;             /* what goes on, after changes */
    size_t olen;
} px_dir;

static bool head_has(const char *head, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 2 < n; i++)
        if (head[i] == '\n' && strncasecmp(head + i + 1, name, nl) == 0 && head[i + 1 + nl] == ':')
            return true;
    return false;
}

/* The value of a field in a head, NUL-terminated copy; false if absent. */
static bool head_value(const char *head, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 2 < n; i++) {
        if (head[i] != '\n' || strncasecmp(head + i + 1, name, nl) != 0 || head[i + 1 + nl] != ':')
            continue;
        const char *v = head + i + 2 + nl, *end = head + n;
        while (v < end && *v == ' ')
            v++;
        size_t k = 0;
        while (v + k < end && v[k] != '\r' && v[k] != '\n' && k + 1 < cap)
            k++;
        memcpy(out, v, k);
        out[k] = '\0';
        return true;
    }
    return false;
}

/* Flip an octet in the middle of a field's value, keeping base64 valid. */
static bool flip_field(char *head, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 2 < n; i++) {
        if (head[i] != '\n' || strncasecmp(head + i + 1, name, nl) != 0 || head[i + 1 + nl] != ':')
            continue;
        size_t v = i + 2 + nl, end = v;
        while (v < n && head[v] == ' ')
            v++;
        end = v;
        while (end < n && head[end] != '\r')
            end++;
        if (end <= v)
            return false;
        char *c = &head[v + (end - v) / 2];
        *c = *c == 'A' ? 'B' : 'A';
        return true;
    }
    return false;
}

static void dir_emit(px_dir *d, const void *p, size_t n)
{
    memcpy(d->out + d->olen, p, n);
    d->olen += n;
}

/* The head is complete: decide the framing and whether to tamper. */
static void dir_head_done(px_tamper *t, px_dir *d)
{
    char v[64];
    int status = 0;
    if (d->response && d->hlen > 12)
        status = atoi(d->head + 9);
    bool cargo = head_has(d->head, d->hlen, "attest-cargo");
    pthread_mutex_lock(&t->mu);
    bool mine = t->armed && cargo &&
                ((d->response && (t->mode == PX_TAMPER_RESP_FIELD || t->mode == PX_TAMPER_RESP_BODY)) ||
                 (!d->response && (t->mode == PX_TAMPER_REQ_FIELD || t->mode == PX_TAMPER_REQ_BODY)));
    if (mine && (t->mode == PX_TAMPER_REQ_FIELD || t->mode == PX_TAMPER_RESP_FIELD)) {
        if (flip_field(d->head, d->hlen, t->field))
            t->tampered++;
        t->armed = false;
    } else if (mine) {
        d->target = true;
        t->armed = false;
    }
    pthread_mutex_unlock(&t->mu);
    dir_emit(d, d->head, d->hlen);
    d->off = 0;
    d->state = ST_HEAD;
    if (d->response && (status / 100 == 1 || status == 204 || status == 304))
        return;
    if (head_value(d->head, d->hlen, "transfer-encoding", v, sizeof(v)) &&
        px_icontains(v, strlen(v), "chunked")) {
        d->state = ST_CHUNK_SIZE;
        d->llen = 0;
    } else if (head_value(d->head, d->hlen, "content-length", v, sizeof(v))) {
        d->left = strtoull(v, NULL, 10);
        d->state = d->left > 0 ? ST_BODY : ST_HEAD;
    } else if (d->response) {
        d->state = ST_TO_EOF;
    }
}

/* Body octets: flip the chosen one when it passes. */
static void dir_body(px_tamper *t, px_dir *d, uint8_t *p, size_t k)
{
    if (d->target && t->offset >= d->off && t->offset < d->off + k) {
        p[t->offset - d->off] ^= 0x01;
        d->target = false;
        pthread_mutex_lock(&t->mu);
        t->tampered++;
        pthread_mutex_unlock(&t->mu);
    }
    d->off += k;
    dir_emit(d, p, k);
}

static void dir_feed(px_tamper *t, px_dir *d, uint8_t *p, size_t n)
{
    size_t i = 0;
    d->olen = 0;
    while (i < n) {
        switch (d->state) {
        case ST_HEAD:
            if (d->hlen == PX_HEAD_MAX) { /* not HTTP as we know it: pass the rest */
                dir_emit(d, d->head, d->hlen);
                d->hlen = 0;
                d->state = ST_TO_EOF;
                break;
            }
            d->head[d->hlen++] = (char)p[i++];
            if (d->hlen >= 4 && memcmp(d->head + d->hlen - 4, "\r\n\r\n", 4) == 0) {
                dir_head_done(t, d);
                d->hlen = 0;
            }
            break;
        case ST_BODY:
        case ST_CHUNK_DATA: {
            size_t k = n - i < d->left ? n - i : (size_t)d->left;
            dir_body(t, d, p + i, k);
            i += k;
            d->left -= k;
            if (d->left == 0)
                d->state = d->state == ST_BODY ? ST_HEAD : ST_CHUNK_CRLF;
            if (d->state == ST_CHUNK_CRLF)
                d->left = 2;
            if (d->state == ST_HEAD)
                d->target = false;
            break;
        }
        case ST_CHUNK_CRLF:
            dir_emit(d, p + i++, 1);
            if (--d->left == 0) {
                d->state = ST_CHUNK_SIZE;
                d->llen = 0;
            }
            break;
        case ST_CHUNK_SIZE:
        case ST_TRAILER: {
            char c = (char)p[i];
            dir_emit(d, p + i++, 1);
            if (d->llen + 1 < sizeof(d->line))
                d->line[d->llen++] = c;
            if (c != '\n')
                break;
            d->line[d->llen] = '\0';
            d->llen = 0;
            if (d->state == ST_CHUNK_SIZE) {
                d->left = strtoull(d->line, NULL, 16);
                d->state = d->left > 0 ? ST_CHUNK_DATA : ST_TRAILER;
            } else if (strcmp(d->line, "\r\n") == 0) {
                d->state = ST_HEAD;
                d->target = false;
            }
            break;
        }
        default: /* ST_TO_EOF */
            dir_body(t, d, p + i, n - i);
            i = n;
            break;
        }
    }
}

typedef struct px_link {
    px_tamper *t;
    int client;
} px_link;

static bool px_send_all(int fd, const void *p, size_t n)
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

static void *link_main(void *arg)
{
    px_link *l = arg;
    px_tamper *t = l->t;
    int fds[2] = {l->client, px_connect(t->to_port)};
    px_dir dirs[2];
    uint8_t *buf = malloc(PX_IO);
    memset(dirs, 0, sizeof(dirs));
    dirs[1].response = true;
    for (int k = 0; k < 2; k++) {
        dirs[k].head = malloc(PX_HEAD_MAX);
        dirs[k].out = malloc(PX_HEAD_MAX + PX_IO);
    }
    bool open_[2] = {fds[1] >= 0, fds[1] >= 0};
    while (buf != NULL && dirs[0].out != NULL && dirs[1].out != NULL && dirs[0].head != NULL &&
           dirs[1].head != NULL && open_[0] && open_[1] && !atomic_load(&t->stop)) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (poll(p, 2, 100) <= 0)
            continue;
        for (int k = 0; k < 2; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(fds[k], buf, PX_IO, 0);
            if (n <= 0) {
                open_[k] = false;
                break;
            }
            dir_feed(t, &dirs[k], buf, (size_t)n);
            pthread_mutex_lock(&t->mu);
            buf_add(k == 0 ? &t->up : &t->down, dirs[k].out, dirs[k].olen);
            pthread_mutex_unlock(&t->mu);
            if (!px_send_all(fds[1 - k], dirs[k].out, dirs[k].olen)) {
                open_[1 - k] = false;
                break;
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        if (fds[k] >= 0)
            close(fds[k]);
        free(dirs[k].head);
        free(dirs[k].out);
    }
    free(buf);
    free(l);
    return NULL;
}

static void *tamper_accept(void *arg)
{
    px_tamper *t = arg;
    while (!atomic_load(&t->stop)) {
        struct pollfd p = {t->fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(t->fd, NULL, NULL);
        if (fd < 0)
            continue;
        px_link *l = malloc(sizeof(*l));
        pthread_mutex_lock(&t->mu);
        bool ok = l != NULL && t->nconns < sizeof(t->conns) / sizeof(t->conns[0]);
        if (ok) {
            *l = (px_link){t, fd};
            ok = pthread_create(&t->conns[t->nconns], NULL, link_main, l) == 0;
            if (ok)
                t->nconns++;
        }
        pthread_mutex_unlock(&t->mu);
        if (!ok) {
            free(l);
            close(fd);
        }
    }
    return NULL;
}

int px_tamper_start(px_tamper *t, int to_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    memset(t, 0, sizeof(*t));
    t->to_port = to_port;
    t->up.max = t->down.max = 64 << 20;
    pthread_mutex_init(&t->mu, NULL);
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->fd < 0 || bind(t->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(t->fd, 64) != 0 ||
        getsockname(t->fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    t->port = ntohs(sa.sin_port);
    atomic_store(&t->stop, false);
    return pthread_create(&t->tid, NULL, tamper_accept, t) == 0 ? 0 : -1;
}

void px_tamper_arm(px_tamper *t, px_tamper_mode mode, const char *field, uint64_t offset)
{
    pthread_mutex_lock(&t->mu);
    t->mode = mode;
    snprintf(t->field, sizeof(t->field), "%s", field != NULL ? field : "");
    t->offset = offset;
    t->armed = mode != PX_TAMPER_NONE;
    pthread_mutex_unlock(&t->mu);
}

int px_tamper_count(px_tamper *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->tampered;
    pthread_mutex_unlock(&t->mu);
    return n;
}

char *px_tamper_seen(px_tamper *t, bool up, size_t *len)
{
    pthread_mutex_lock(&t->mu);
    const px_buf *b = up ? &t->up : &t->down;
    char *s = malloc(b->len + 1);
    if (s != NULL) {
        if (b->len)
            memcpy(s, b->p, b->len);
        s[b->len] = '\0';
        *len = b->len;
    }
    pthread_mutex_unlock(&t->mu);
    return s;
}

void px_tamper_stop(px_tamper *t)
{
    if (t->fd <= 0)
        return;
    atomic_store(&t->stop, true);
    pthread_join(t->tid, NULL);
    for (size_t i = 0; i < t->nconns; i++)
        pthread_join(t->conns[i], NULL);
    close(t->fd);
    t->fd = 0;
    free(t->up.p);
    free(t->down.p);
    pthread_mutex_destroy(&t->mu);
}

char *px_find_request(const char *s, size_t n, const char *marker, size_t *len, size_t *at)
{
    char v[32];
    for (size_t i = 0; i < n;) {
        const char *end = NULL;
        for (size_t k = i; k + 4 <= n; k++)
            if (memcmp(s + k, "\r\n\r\n", 4) == 0) {
                end = s + k + 4;
                break;
            }
        if (end == NULL)
            return NULL;
        size_t hl = (size_t)(end - (s + i));
        uint64_t bl = head_value(s + i, hl, "content-length", v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
        if (hl + bl > n - i)
            return NULL;
        if (head_has(s + i, hl, marker)) {
            char *out = malloc(hl + bl + 1);
            if (out == NULL)
                return NULL;
            memcpy(out, s + i, hl + bl);
            out[hl + bl] = '\0';
            *len = hl + bl;
            *at = i;
            return out;
        }
        i += hl + bl;
    }
    return NULL;
}
