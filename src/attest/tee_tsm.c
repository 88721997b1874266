/* Evidence from Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm):
 * a guest creates a report entry with mkdir, writes 64 octets to `inblob`,
 * and reads the TDX quote or SEV-SNP report from `outblob`. `generation`
 * counts writes to the entry, so reading it before and after tells whether
 * someone else wrote in between (then the outblob may be theirs).
 *
 * Each report uses its own uniquely named entry and removes it afterwards.
 * On a plain directory tree (tests) a test-supplied callback plays the
 * kernel's part at the three points where the kernel acts; see tee.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpa/crypto.h"
#include "tee_int.h"

#define TSM_DEFAULT_ATTEMPTS 3
#define TSM_TEXT_MAX 64

/* The kernel's provider names and the profile's TEE tokens. */
static const struct {
    const char *provider, *tee;
    tee_format format;
} PROVIDERS[] = {
    {"tdx_guest", "tdx", TEE_FORMAT_TDX_QUOTE},
    {"sev_guest", "sev_snp", TEE_FORMAT_SNP_REPORT},
};
#define NPROVIDERS (sizeof(PROVIDERS) / sizeof(PROVIDERS[0]))

/* One entry: its directory and the paths of its attributes. */
typedef struct tsm_entry {
    char dir[HTTPA_TEE_PATH_MAX];
    bool created;
} tsm_entry;

static void kernel(httpa_tsm_attester *a, httpa_tsm_event ev, const char *dir)
{
    if (a->cfg.test_kernel != NULL)
        a->cfg.test_kernel(a->cfg.test_kernel_arg, ev, dir);
}

static httpa_err entry_create(httpa_tsm_attester *a, tsm_entry *t, httpa_tee_diag *d)
{
    uint8_t r[8];
    char name[80];
    if (httpa_random(r, sizeof(r)) != HTTPA_OK)
        return tee_fail(d, HTTPA_ERR_LIBRARY, HTTPA_TEE_INTERNAL, 0, "no randomness");
    pthread_mutex_lock(&a->mu);
    unsigned seq = a->seq++;
    pthread_mutex_unlock(&a->mu);
    snprintf(name, sizeof(name), "httpa-%ld-%u-%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(),
             seq, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    httpa_err e = tee_path(t->dir, a->root, name, d);
    if (e != HTTPA_OK)
        return e;
    if (mkdir(t->dir, 0700) != 0)
        return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_MKDIR_FAILED, errno, "mkdir %s", t->dir);
    t->created = true;
    kernel(a, HTTPA_TSM_EV_CREATED, t->dir);
    return HTTPA_OK;
}

/* Remove the entry; a failure here is reported only when nothing failed
 * before (the first failure is the one that explains). */
static httpa_err entry_remove(httpa_tsm_attester *a, tsm_entry *t, httpa_err e, httpa_tee_diag *d)
{
    if (!t->created)
        return e;
    kernel(a, HTTPA_TSM_EV_REMOVING, t->dir);
    t->created = false;
    if (rmdir(t->dir) != 0 && e == HTTPA_OK)
        return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_RMDIR_FAILED, errno, "rmdir %s", t->dir);
    return e;
}

static httpa_err attr_path(const tsm_entry *t, const char *attr, char out[HTTPA_TEE_PATH_MAX],
                           httpa_tee_diag *d)
{
    return tee_path(out, t->dir, attr, d);
}

static httpa_err read_attr_text(const tsm_entry *t, const char *attr, char *out, size_t cap,
                                httpa_tee_diag *d)
{
    char p[HTTPA_TEE_PATH_MAX];
    httpa_err e = attr_path(t, attr, p, d);
    return e == HTTPA_OK ? tee_read_text(p, out, cap, d) : e;
}

static httpa_err read_generation(const tsm_entry *t, uint64_t *out, httpa_tee_diag *d)
{
    char text[TSM_TEXT_MAX];
    httpa_err e = read_attr_text(t, "generation", text, sizeof(text), d);
    if (e != HTTPA_OK)
        return e;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || end == text || *end != '\0')
        return tee_fail(d, HTTPA_ERR_IO, HTTPA_TEE_BAD_GENERATION, 0, "%s/generation: \"%s\"",
                        t->dir, text);
    *out = (uint64_t)v;
    return HTTPA_OK;
}

static int provider_index(const char *name)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (strcmp(PROVIDERS[i].provider, name) == 0)
            return (int)i;
    return -1;
}

static httpa_err read_provider(const tsm_entry *t, char out[32], httpa_tee_diag *d)
{
    httpa_err e = read_attr_text(t, "provider", out, 32, d);
    if (e == HTTPA_OK && provider_index(out) < 0)
        e = tee_fail(d, HTTPA_ERR_UNSUPPORTED, HTTPA_TEE_UNKNOWN_PROVIDER, 0,
                     "%s/provider: \"%s\"", t->dir, out);
    return e;
}

static httpa_err write_attr(const tsm_entry *t, const char *attr, const void *p, size_t len,
                            httpa_tee_diag *d)
{
    char path[HTTPA_TEE_PATH_MAX];
    httpa_err e = attr_path(t, attr, path, d);
    return e == HTTPA_OK ? tee_write(path, p, len, d) : e;
}

static httpa_err read_blob(const tsm_entry *t, const char *attr, size_t max, bool missing_ok,
                           httpa_buf *out, httpa_tee_diag *d)
{
    char path[HTTPA_TEE_PATH_MAX];
    httpa_err e = attr_path(t, attr, path, d);
    return e == HTTPA_OK ? tee_read(path, max, missing_ok, out, d) : e;
}

/* The provider must still be the one found at start. */
static httpa_err check_provider(httpa_tsm_attester *a, const tsm_entry *t, httpa_tee_diag *d)
{
    char p[32] = "";
    httpa_err e = read_provider(t, p, d);
    if (e == HTTPA_OK && strcmp(p, a->provider) != 0)
        e = tee_fail(d, HTTPA_ERR_UNSUPPORTED, HTTPA_TEE_PROVIDER_CHANGED, 0,
                     "%s/provider is \"%s\", was \"%s\"", t->dir, p, a->provider);
    return e;
}

static httpa_err prepare(httpa_tsm_attester *a, const tsm_entry *t, httpa_tee_diag *d)
{
    httpa_err e = check_provider(a, t, d);
    if (e == HTTPA_OK && a->cfg.set_privlevel) {
        char lvl[16];
        int n = snprintf(lvl, sizeof(lvl), "%u\n", a->cfg.privlevel);
        e = write_attr(t, "privlevel", lvl, (size_t)n, d);
    }
    return e;
}

/* Everything between mkdir and rmdir. */
static httpa_err one_report(httpa_tsm_attester *a, const tsm_entry *t,
                            const uint8_t rd[HTTPA_REPORT_DATA_LEN], httpa_tsm_report *r,
                            uint64_t *before, httpa_tee_diag *d)
{
    httpa_err e = prepare(a, t, d);
    if (e == HTTPA_OK)
        e = read_generation(t, before, d);
    if (e == HTTPA_OK)
        e = write_attr(t, "inblob", rd, HTTPA_REPORT_DATA_LEN, d);
    if (e != HTTPA_OK)
        return e;
    kernel(a, HTTPA_TSM_EV_INBLOB_WRITTEN, t->dir);
    e = read_blob(t, "outblob", HTTPA_TEE_EVIDENCE_MAX, false, &r->outblob, d);
    if (e == HTTPA_OK)
        e = read_blob(t, "auxblob", HTTPA_TEE_AUXBLOB_MAX, true, &r->auxblob, d);
    if (e == HTTPA_OK)
        e = read_generation(t, &r->generation, d);
    return e;
}

static httpa_err attempt(httpa_tsm_attester *a, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                         httpa_tsm_report *r, httpa_tee_diag *d)
{
    tsm_entry t = {.created = false};
    uint64_t before = 0;
    httpa_buf_reset(&r->outblob);
    httpa_buf_reset(&r->auxblob);
    httpa_err e = entry_create(a, &t, d);
    if (e == HTTPA_OK)
        e = one_report(a, &t, rd, r, &before, d);
    e = entry_remove(a, &t, e, d);
    if (e == HTTPA_OK && r->generation != before + 1)
        e = tee_fail(d, HTTPA_ERR_BAD_STATE, HTTPA_TEE_GENERATION_MISMATCH, 0,
                     "generation %" PRIu64 " before the write, %" PRIu64 " after", before,
                     r->generation);
    return e;
}

static tee_format format_of(const httpa_tsm_attester *a)
{
    int i = provider_index(a->provider);
    return PROVIDERS[i < 0 ? 0 : i].format;
}

httpa_err httpa_tsm_get_report(httpa_tsm_attester *a, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                               httpa_tsm_report *out, httpa_tee_diag *diag)
{
    httpa_tee_diag local = {.reason = HTTPA_TEE_OK};
    httpa_tee_diag *d = diag != NULL ? diag : &local;
    if (a == NULL || rd == NULL || out == NULL)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_INTERNAL, 0, "missing argument");
    httpa_buf_init(&out->outblob, HTTPA_TEE_EVIDENCE_MAX);
    httpa_buf_init(&out->auxblob, HTTPA_TEE_AUXBLOB_MAX);
    out->generation = 0;
    out->attempts = 0;
    unsigned max = a->cfg.max_attempts != 0 ? a->cfg.max_attempts : TSM_DEFAULT_ATTEMPTS;
    httpa_err e = HTTPA_ERR_BAD_STATE;
    while (out->attempts < max) {
        out->attempts++;
        e = attempt(a, rd, out, d);
        if (e != HTTPA_ERR_BAD_STATE)
            break; /* only a concurrent writer is worth another try */
    }
    if (e == HTTPA_OK)
        e = tee_check_evidence(format_of(a), httpa_buf_span(&out->outblob), rd, d);
    if (e == HTTPA_OK)
        *d = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    else
        httpa_tsm_report_free(out);
    tee_remember(&a->mu, &a->last, d);
    return e;
}

void httpa_tsm_report_free(httpa_tsm_report *r)
{
    if (r == NULL)
        return;
    httpa_buf_free(&r->outblob);
    httpa_buf_free(&r->auxblob);
}

static httpa_err tsm_quote(httpa_attester *self, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                           httpa_buf *evidence)
{
    httpa_tsm_attester *a = (httpa_tsm_attester *)self;
    httpa_tsm_report r;
    httpa_err e = httpa_tsm_get_report(a, rd, &r, NULL);
    if (e == HTTPA_OK)
        e = httpa_buf_append(evidence, r.outblob.base, r.outblob.len);
    httpa_tsm_report_free(&r);
    return e;
}

/* Create and remove one entry to learn the provider. */
static httpa_err probe(httpa_tsm_attester *a, httpa_tee_diag *d)
{
    tsm_entry t = {.created = false};
    httpa_err e = entry_create(a, &t, d);
    if (e == HTTPA_OK)
        e = read_provider(&t, a->provider, d);
    return entry_remove(a, &t, e, d);
}

httpa_err httpa_tsm_attester_init(httpa_tsm_attester *a, const httpa_tsm_config *cfg,
                                  httpa_tee_diag *diag)
{
    httpa_tee_diag local = {.reason = HTTPA_TEE_OK};
    httpa_tee_diag *d = diag != NULL ? diag : &local;
    if (a == NULL)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_INTERNAL, 0, "no attester");
    memset(a, 0, sizeof(*a));
    if (cfg != NULL)
        a->cfg = *cfg;
    const char *root = a->cfg.root != NULL ? a->cfg.root : HTTPA_TSM_DEFAULT_ROOT;
    int n = snprintf(a->root, sizeof(a->root), "%s", root);
    if (n < 0 || (size_t)n >= sizeof(a->root) - 64)
        return tee_fail(d, HTTPA_ERR_INVALID_ARG, HTTPA_TEE_PATH_TOO_LONG, 0, "%s", root);
    a->cfg.root = a->root;
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        return tee_fail(d, HTTPA_ERR_NOMEM, HTTPA_TEE_INTERNAL, 0, "pthread_mutex_init");
    httpa_err e = probe(a, d);
    if (e != HTTPA_OK) {
        pthread_mutex_destroy(&a->mu);
        memset(a, 0, sizeof(*a));
        return e;
    }
    int i = provider_index(a->provider);
    snprintf(a->tee, sizeof(a->tee), "%s", PROVIDERS[i].tee);
    a->base.tee = a->tee;
    a->base.quote = tsm_quote;
    *d = (httpa_tee_diag){.reason = HTTPA_TEE_OK};
    a->last = *d;
    return HTTPA_OK;
}

void httpa_tsm_attester_clear(httpa_tsm_attester *a)
{
    if (a == NULL || a->base.quote == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    memset(a, 0, sizeof(*a));
}
