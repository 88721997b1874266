/* Choosing an evidence provider (configfs-tsm, Gramine, or the simulator
 * when named explicitly), and what the providers share: bounded file I/O
 * with named failures, and the shape checks of TDX, SGX and SEV-SNP
 * evidence. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tee_int.h"

static const char *const REASON_NAMES[] = {
#define HTTPA_TEE_X(name, text) #name,
    HTTPA_TEE_REASONS(HTTPA_TEE_X)
#undef HTTPA_TEE_X
};
static const char *const REASON_TEXTS[] = {
#define HTTPA_TEE_X(name, text) text,
    HTTPA_TEE_REASONS(HTTPA_TEE_X)
#undef HTTPA_TEE_X
};

const char *httpa_tee_reason_name(httpa_tee_reason r)
{
    return (unsigned)r < HTTPA_TEE_REASON__COUNT ? REASON_NAMES[r] : "UNKNOWN";
}

const char *httpa_tee_reason_text(httpa_tee_reason r)
{
    return (unsigned)r < HTTPA_TEE_REASON__COUNT ? REASON_TEXTS[r] : "unknown reason";
}

/* ---- Shared helpers ---- */

httpa_err tee_fail(httpa_tee_diag *d, httpa_err e, httpa_tee_reason r, int err, const char *fmt,
                   ...)
{
    if (d == NULL)
        return e;
    va_list ap;
    d->reason = r;
    d->sys_errno = err;
    va_start(ap, fmt);
    int n = vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
    va_end(ap);
    if (err != 0 && n >= 0 && (size_t)n < sizeof(d->detail))
        snprintf(d->detail + n, sizeof(d->detail) - (size_t)n, ": %s", strerror(err));
    return e;
}

httpa_err tee_path(char out[HTTPA_TEE_PATH_MAX], const char *dir, const char *name,
                   httpa_tee_diag *d)
{
    int n = snprintf(out, HTTPA_TEE_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= HTTPA_TEE_PATH_MAX)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_PATH_TOO_LONG, 0, "%s/%s", dir, name);
    return HTTPA_OK;
}

static httpa_err read_fd(int fd, const char *path, size_t max, httpa_buf *out, httpa_tee_diag *d)
{
    uint8_t chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_READ_FAILED, errno, "read %s", path);
        if (n == 0)
            return HTTPA_OK;
        if ((size_t)n > max - total)
            return tee_fail(d, HTTPA_ERR_TOO_LARGE, HTTPA_TEE_TOO_LARGE, 0,
                            "%s is larger than %zu octets", path, max);
        total += (size_t)n;
        if (httpa_buf_append(out, chunk, (size_t)n) != HTTPA_OK)
            return tee_fail(d, HTTPA_ERR_NOMEM, HTTPA_TEE_INTERNAL, 0, "out of memory");
    }
}

httpa_err tee_read(const char *path, size_t max, bool missing_ok, httpa_buf *out,
                   httpa_tee_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && missing_ok)
        return HTTPA_OK;
    if (fd < 0)
        return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_OPEN_FAILED, errno, "open %s", path);
    httpa_err e = read_fd(fd, path, max, out, d);
    close(fd);
    return e;
}

httpa_err tee_write(const char *path, const void *p, size_t len, httpa_tee_diag *d)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_OPEN_FAILED, errno, "open %s", path);
    ssize_t n;
    do
        n = write(fd, p, len);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    httpa_err e = HTTPA_OK;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (n < 0 || err != 0)
        e = tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_WRITE_FAILED, err, "write %s", path);
    else if ((size_t)n != len)
        e = tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_WRITE_FAILED, 0, "write %s: %zd of %zu octets",
                     path, n, len);
    return e;
}

httpa_err tee_read_text(const char *path, char *out, size_t cap, httpa_tee_diag *d)
{
    httpa_buf b;
    httpa_buf_init(&b, cap - 1);
    httpa_err e = tee_read(path, cap - 1, false, &b, d);
    if (e == HTTPA_OK) {
        size_t n = b.len;
        while (n > 0 && (b.base[n - 1] == '\n' || b.base[n - 1] == '\0'))
            n--;
        if (n > 0)
            memcpy(out, b.base, n);
        out[n] = '\0';
    }
    httpa_buf_free(&b);
    return e;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Where report_data sits (profile 7.5) and how long the fixed part is:
 * header 48, then a v5 body descriptor (type u16, size u32), then the body
 * (SGX report 384 with REPORTDATA at 320; TD report with REPORTDATA at 520). */
static bool quote_rd_offset(tee_format f, httpa_span ev, size_t *off, httpa_tee_diag *d)
{
    if (ev.len < 48) {
        tee_fail(d, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_SHORT_EVIDENCE, 0,
                 "%zu octets, shorter than a quote header", ev.len);
        return false;
    }
    uint16_t version = le16(ev.base);
    uint32_t tee = le32(ev.base + 4);
    bool tdx = f == TEE_FORMAT_TDX_QUOTE;
    bool ok = tdx ? tee == 0x81 && (version == 4 || version == 5)
                  : tee == 0 && version >= 3 && version <= 5;
    if (!ok) {
        tee_fail(d, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_WRONG_FORMAT, 0,
                 "quote version %u, TEE type 0x%x is not an %s quote", version, (unsigned)tee,
                 tdx ? "Intel TDX" : "Intel SGX");
        return false;
    }
    size_t body = version == 5 ? 54 : 48;
    *off = body + (tdx ? 520 : 320);
    return true;
}

httpa_err tee_check_evidence(tee_format f, httpa_span ev, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                             httpa_tee_diag *d)
{
    size_t off = 80; /* SEV-SNP REPORT_DATA */
    size_t min = 1184;
    if (f != TEE_FORMAT_SNP_REPORT) {
        if (!quote_rd_offset(f, ev, &off, d))
            return HTTPA_ERR_BAD_QUOTE;
        min = off + HTTPA_REPORT_DATA_LEN;
    }
    if (ev.len < min)
        return tee_fail(d, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_SHORT_EVIDENCE, 0,
                        "%zu octets, the format needs at least %zu", ev.len, min);
    if (!httpa_ct_equal(ev.base + off, rd, HTTPA_REPORT_DATA_LEN))
        return tee_fail(d, HTTPA_ERR_BAD_QUOTE, HTTPA_TEE_REPORT_DATA_MISMATCH, 0,
                        "report_data at octet %zu differs from the one written", off);
    return HTTPA_OK;
}

void tee_remember(pthread_mutex_t *mu, httpa_tee_diag *last, const httpa_tee_diag *d)
{
    pthread_mutex_lock(mu);
    *last = *d;
    pthread_mutex_unlock(mu);
}

/* ---- Detection and selection ---- */

const char *httpa_tee_kind_name(httpa_tee_kind k)
{
    switch (k) {
    case HTTPA_TEE_KIND_NONE:
        return "none";
    case HTTPA_TEE_KIND_TSM:
        return "tsm";
    case HTTPA_TEE_KIND_GRAMINE:
        return "gramine";
    case HTTPA_TEE_KIND_SIM:
        return "sim";
    }
    return "unknown";
}

httpa_tee_kind httpa_tee_detect(const char *tsm_root, const char *gramine_root)
{
    struct stat st;
    char quote[HTTPA_TEE_PATH_MAX];
    if (stat(tsm_root != NULL ? tsm_root : HTTPA_TSM_DEFAULT_ROOT, &st) == 0 && S_ISDIR(st.st_mode))
        return HTTPA_TEE_KIND_TSM;
    if (tee_path(quote, gramine_root != NULL ? gramine_root : HTTPA_GRAMINE_DEFAULT_ROOT, "quote",
                 NULL) == HTTPA_OK
        && stat(quote, &st) == 0)
        return HTTPA_TEE_KIND_GRAMINE;
    return HTTPA_TEE_KIND_NONE;
}

struct httpa_tee {
    httpa_tee_kind kind;
    union {
        httpa_tsm_attester tsm;
        httpa_gramine_attester gramine;
        httpa_sim_attester sim;
    } u;
};

static httpa_err kind_from_name(const httpa_tee_options *o, httpa_tee_kind *k, httpa_tee_diag *d)
{
    const char *n = o->provider;
    if (n == NULL || strcmp(n, "auto") == 0) {
        *k = httpa_tee_detect(o->tsm.root, o->gramine.root);
        if (*k != HTTPA_TEE_KIND_NONE)
            return HTTPA_OK;
        return tee_fail(d, HTTPA_ERR_UNSUPPORTED, HTTPA_TEE_NO_TEE, 0,
                        "neither %s nor %s/quote exists; name \"sim\" explicitly to run without "
                        "a TEE (development only)",
                        o->tsm.root != NULL ? o->tsm.root : HTTPA_TSM_DEFAULT_ROOT,
                        o->gramine.root != NULL ? o->gramine.root : HTTPA_GRAMINE_DEFAULT_ROOT);
    }
    static const httpa_tee_kind named[] = {HTTPA_TEE_KIND_TSM, HTTPA_TEE_KIND_GRAMINE,
                                           HTTPA_TEE_KIND_SIM};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strcmp(n, httpa_tee_kind_name(named[i])) == 0) {
            *k = named[i];
            if (*k == HTTPA_TEE_KIND_SIM && !o->allow_sim)
                return tee_fail(d, HTTPA_ERR_UNSUPPORTED, HTTPA_TEE_SIM_NOT_ALLOWED, 0,
                                "the simulated TEE proves nothing about hardware; set "
                                "allow_sim to use it");
            return HTTPA_OK;
        }
    return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_UNKNOWN_NAME, 0,
                    "\"%s\" (want auto, tsm, gramine or sim)", n);
}

httpa_err httpa_tee_open(const httpa_tee_options *o, httpa_tee **out, httpa_tee_diag *diag)
{
    httpa_tee_kind k = HTTPA_TEE_KIND_NONE;
    if (o == NULL || out == NULL)
        return tee_fail(diag, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_INTERNAL, 0, "no options");
    *out = NULL;
    httpa_err e = kind_from_name(o, &k, diag);
    if (e != HTTPA_OK)
        return e;
    httpa_tee *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return tee_fail(diag, HTTPA_ERR_NOMEM, HTTPA_TEE_INTERNAL, 0, "out of memory");
    t->kind = k;
    if (k == HTTPA_TEE_KIND_TSM)
        e = httpa_tsm_attester_init(&t->u.tsm, &o->tsm, diag);
    else if (k == HTTPA_TEE_KIND_GRAMINE)
        e = httpa_gramine_attester_init(&t->u.gramine, &o->gramine, diag);
    else
        e = httpa_sim_attester_init(&t->u.sim, o->sim_seed, o->sim_measurement, o->sim_svn, false);
    if (e != HTTPA_OK) {
        if (k == HTTPA_TEE_KIND_SIM)
            tee_fail(diag, e, HTTPA_TEE_INTERNAL, 0, "sim attester: %s", httpa_strerror(e));
        free(t);
        return e;
    }
    if (diag != NULL)
        *diag = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    *out = t;
    return HTTPA_OK;
}

httpa_attester *httpa_tee_attester(httpa_tee *t)
{
    if (t == NULL)
        return NULL;
    switch (t->kind) {
    case HTTPA_TEE_KIND_TSM:
        return &t->u.tsm.base;
    case HTTPA_TEE_KIND_GRAMINE:
        return &t->u.gramine.base;
    case HTTPA_TEE_KIND_SIM:
        return &t->u.sim.base;
    case HTTPA_TEE_KIND_NONE:
        break;
    }
    return NULL;
}

httpa_tee_kind httpa_tee_kind_of(const httpa_tee *t)
{
    return t != NULL ? t->kind : HTTPA_TEE_KIND_NONE;
}

void httpa_tee_last_error(httpa_tee *t, httpa_tee_diag *out)
{
    *out = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    if (t != NULL && t->kind == HTTPA_TEE_KIND_TSM)
        tee_remember(&t->u.tsm.mu, out, &t->u.tsm.last); /* copy under the lock */
    else if (t != NULL && t->kind == HTTPA_TEE_KIND_GRAMINE)
        tee_remember(&t->u.gramine.mu, out, &t->u.gramine.last);
}

void httpa_tee_close(httpa_tee *t)
{
    if (t == NULL)
        return;
    if (t->kind == HTTPA_TEE_KIND_TSM)
        httpa_tsm_attester_clear(&t->u.tsm);
    else if (t->kind == HTTPA_TEE_KIND_GRAMINE)
        httpa_gramine_attester_clear(&t->u.gramine);
    else if (t->kind == HTTPA_TEE_KIND_SIM)
        httpa_sim_attester_clear(&t->u.sim);
    free(t);
}
