/* TESTS ONLY: fake configfs-tsm and Gramine trees; see tee_tree.h. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tee_tree.h"
#include "testlib.h"

#define SIM_LEN HTTPA_SIM_EVIDENCE_LEN

void tl_tempdir(char out[256])
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/httpa-tee-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");
    if (mkdtemp(out) == NULL)
        fail_msg("mkdtemp %s: %s", out, strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void tl_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tl_write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("create %s: %s", path, strerror(errno));
    if (len != 0 && fwrite(p, 1, len, f) != len)
        fail_msg("write %s", path);
    fclose(f);
}

void tl_write_text(const char *dir, const char *name, const char *text)
{
    tl_write_file(dir, name, text, strlen(text));
}

/* The whole small file, or -1 when it does not exist. */
static long read_small(const char *dir, const char *name, uint8_t *out, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(out, 1, cap, f);
    fclose(f);
    return (long)n;
}

/* ---- Evidence shapes ---- */

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Length of the fixed part and where report_data sits in it. */
static void shape_layout(tl_shape s, size_t *fixed, size_t *rd_at)
{
    switch (s) {
    case TL_SHAPE_TDX_V4:
        *fixed = 48 + 584, *rd_at = 568;
        return;
    case TL_SHAPE_TDX_V5:
        *fixed = 54 + 584, *rd_at = 574;
        return;
    case TL_SHAPE_SGX_V3:
        *fixed = 48 + 384, *rd_at = 368;
        return;
    case TL_SHAPE_SNP:
        *fixed = 1184, *rd_at = 80;
        return;
    }
    fail_msg("unknown shape");
}

static void shape_header(tl_shape s, uint8_t *p)
{
    if (s == TL_SHAPE_SNP) {
        put_le32(p, 2); /* report version */
        return;
    }
    put_le16(p, s == TL_SHAPE_TDX_V4 ? 4 : s == TL_SHAPE_TDX_V5 ? 5 : 3);
    put_le16(p + 2, 2); /* ECDSA P-256 */
    put_le32(p + 4, s == TL_SHAPE_SGX_V3 ? 0 : 0x81);
    if (s == TL_SHAPE_TDX_V5) {
        put_le16(p + 48, 2);   /* body type: TD report 1.0 */
        put_le32(p + 50, 584); /* body size */
    }
}

void tl_wrap_evidence(tl_shape shape, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                      httpa_attester *sim, httpa_buf *out)
{
    size_t fixed = 0, rd_at = 0;
    uint8_t *w = NULL;
    shape_layout(shape, &fixed, &rd_at);
    assert_int_equal(httpa_buf_extend(out, fixed, &w), HTTPA_OK);
    memset(w, 0, fixed);
    shape_header(shape, w);
    memcpy(w + rd_at, rd, HTTPA_REPORT_DATA_LEN);
    if (sim == NULL)
        return;
    httpa_buf ev;
    httpa_buf_init(&ev, 4096);
    assert_int_equal(sim->quote(sim, rd, &ev), HTTPA_OK);
    uint8_t len[4];
    put_le32(len, (uint32_t)ev.len);
    assert_int_equal(httpa_buf_append(out, len, 4), HTTPA_OK);
    assert_int_equal(httpa_buf_append(out, ev.base, ev.len), HTTPA_OK);
    httpa_buf_free(&ev);
}

/* ---- configfs-tsm ---- */

void tl_tsm_kernel_init(tl_tsm_kernel *k, const char *provider, httpa_attester *sim)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->provider, sizeof(k->provider), "%s", provider);
    k->sim = sim;
    pthread_mutex_init(&k->mu, NULL);
}

void tl_tsm_kernel_free(tl_tsm_kernel *k)
{
    pthread_mutex_destroy(&k->mu);
}

static void on_created(tl_tsm_kernel *k, const char *dir)
{
    char provider[40];
    snprintf(provider, sizeof(provider), "%s\n", k->provider);
    tl_write_text(dir, "provider", provider);
    tl_write_file(dir, "inblob", "", 0);
    tl_write_file(dir, "privlevel", "", 0);
    if (k->mode == TL_TSM_BAD_GENERATION)
        tl_write_text(dir, "generation", "x\n");
    else if (k->mode != TL_TSM_NO_GENERATION)
        tl_write_text(dir, "generation", "0\n");
    k->created++;
}

static void write_outblob(tl_tsm_kernel *k, const char *dir, const uint8_t rd_in[64])
{
    uint8_t rd[64];
    memcpy(rd, rd_in, sizeof(rd));
    if (k->mode == TL_TSM_WRONG_RD)
        rd[5] ^= 0x40;
    tl_shape shape = strcmp(k->provider, "sev_guest") == 0 ? TL_SHAPE_SNP : TL_SHAPE_TDX_V4;
    httpa_buf out;
    httpa_buf_init(&out, 1 << 20);
    if (k->mode == TL_TSM_HUGE_OUTBLOB) {
        uint8_t *w = NULL;
        assert_int_equal(httpa_buf_extend(&out, HTTPA_TEE_EVIDENCE_MAX + 1, &w), HTTPA_OK);
        memset(w, 0, out.len);
    } else {
        tl_wrap_evidence(shape, rd, k->sim, &out);
    }
    size_t n = k->mode == TL_TSM_SHORT_OUTBLOB ? 100 : out.len;
    if (k->mode != TL_TSM_NO_OUTBLOB)
        tl_write_file(dir, "outblob", out.base, n);
    httpa_buf_free(&out);
}

static void on_inblob(tl_tsm_kernel *k, const char *dir)
{
    uint8_t rd[64], gen[32] = {0};
    if (read_small(dir, "inblob", rd, sizeof(rd)) != 64)
        fail_msg("fake kernel: inblob is not 64 octets");
    write_outblob(k, dir, rd);
    if (k->auxblob)
        tl_write_text(dir, "auxblob", "certificate table");
    long n = read_small(dir, "generation", gen, sizeof(gen) - 1);
    if (n > 0 && k->mode != TL_TSM_BAD_GENERATION) {
        bool skip = k->mode == TL_TSM_GEN_SKIP || (k->mode == TL_TSM_GEN_SKIP_ONCE && k->reports == 0);
        char text[32];
        snprintf(text, sizeof(text), "%lu\n", strtoul((char *)gen, NULL, 10) + (skip ? 2 : 1));
        tl_write_text(dir, "generation", text);
    }
    k->reports++;
    k->last_thread = pthread_self();
}

static void on_removing(tl_tsm_kernel *k, const char *dir)
{
    static const char *const files[] = {"provider", "inblob",  "outblob",
                                         "auxblob",  "generation", "privlevel"};
    char path[1024];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    k->removed++;
}

void tl_tsm_kernel_fn(void *arg, httpa_tsm_event ev, const char *dir)
{
    tl_tsm_kernel *k = arg;
    pthread_mutex_lock(&k->mu);
    if (ev == HTTPA_TSM_EV_CREATED)
        on_created(k, dir);
    else if (ev == HTTPA_TSM_EV_INBLOB_WRITTEN)
        on_inblob(k, dir);
    else
        on_removing(k, dir);
    pthread_mutex_unlock(&k->mu);
}

/* ---- Gramine ---- */

void tl_gramine_tree(const char *dir, const char *type)
{
    char text[64];
    snprintf(text, sizeof(text), "%s\n", type);
    tl_write_text(dir, "attestation_type", text);
    tl_write_file(dir, "user_report_data", "", 0);
}

void tl_gramine_device_fn(void *arg, const char *dir)
{
    tl_gramine_device *g = arg;
    uint8_t rd[64];
    if (read_small(dir, "user_report_data", rd, sizeof(rd)) != 64)
        fail_msg("fake Gramine: user_report_data is not 64 octets");
    if (g->mode == TL_GRAMINE_NO_QUOTE)
        return;
    if (g->mode == TL_GRAMINE_WRONG_RD)
        rd[63] ^= 1;
    httpa_buf q;
    httpa_buf_init(&q, 1 << 16);
    tl_wrap_evidence(TL_SHAPE_SGX_V3, rd, g->sim, &q);
    tl_write_file(dir, "quote", q.base, g->mode == TL_GRAMINE_SHORT_QUOTE ? 300 : q.len);
    httpa_buf_free(&q);
    g->quotes++;
}

/* ---- Verifier ---- */

static httpa_err wrapped_appraise(httpa_verifier *self, const char *tee, const char *format,
                                  httpa_span ev, int64_t now, httpa_appraisal *out)
{
    tl_wrapped_verifier *v = (tl_wrapped_verifier *)self;
    size_t fixed = 0, rd_at = 0;
    if (strcmp(tee, v->tee) != 0 || strcmp(format, "raw") != 0)
        return HTTPA_ERR_UNSUPPORTED;
    v->calls++;
    shape_layout(v->shape, &fixed, &rd_at);
    if (ev.len != fixed + 4 + SIM_LEN || get_le32(ev.base + fixed) != SIM_LEN)
        return HTTPA_ERR_BAD_QUOTE;
    uint8_t head[64] = {0};
    shape_header(v->shape, head);
    if (memcmp(ev.base, head, v->shape == TL_SHAPE_SNP ? 4 : 8) != 0)
        return HTTPA_ERR_BAD_QUOTE;
    httpa_err e = v->sim.base.appraise(&v->sim.base, "sim", "raw",
                                       HTTPA_SPAN(ev.base + fixed + 4, SIM_LEN), now, out);
    if (e == HTTPA_OK && memcmp(out->report_data, ev.base + rd_at, HTTPA_REPORT_DATA_LEN) != 0)
        e = HTTPA_ERR_BAD_QUOTE;
    return e;
}

void tl_wrapped_verifier_init(tl_wrapped_verifier *v, const char *tee, tl_shape shape,
                              const uint8_t sim_pub[32])
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = wrapped_appraise;
    v->tee = tee;
    v->shape = shape;
    httpa_sim_verifier_init(&v->sim, sim_pub);
}
