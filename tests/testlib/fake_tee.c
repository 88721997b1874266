/* Test-only fakes: sim attester and verifier (profile 7.6), fixed rng. */
#include <string.h>

#include "fake_tee.h"
#include "testlib.h"

#define SIM_MAGIC "httpa2-sim-quote"     /* 16 octets, no terminator */
#define SIM_CONTEXT "httpa2 sim quote"   /* followed by 0x00 */
#define SIM_SIGNED 120

/* "httpa2 sim quote" 0x00 || octets 0..119 */
static void sim_message(const uint8_t *ev, uint8_t msg[sizeof(SIM_CONTEXT) + SIM_SIGNED])
{
    memcpy(msg, SIM_CONTEXT, sizeof(SIM_CONTEXT));
    memcpy(msg + sizeof(SIM_CONTEXT), ev, SIM_SIGNED);
}

httpa_err tl_sim_quote(httpa_sign_key *key, uint16_t flags, uint32_t svn,
                       const uint8_t measurement[32],
                       const uint8_t report_data[HTTPA_REPORT_DATA_LEN], uint8_t out[TL_SIM_LEN])
{
    uint8_t msg[sizeof(SIM_CONTEXT) + SIM_SIGNED];
    memcpy(out, SIM_MAGIC, 16);
    httpa_put_u16(out + 16, 1);
    httpa_put_u16(out + 18, flags);
    httpa_put_u32(out + 20, svn);
    memcpy(out + 24, measurement, 32);
    memcpy(out + 56, report_data, HTTPA_REPORT_DATA_LEN);
    sim_message(out, msg);
    return httpa_sign(key, HTTPA_SPAN(msg, sizeof(msg)), out + SIM_SIGNED);
}

static httpa_err fake_quote(httpa_attester *self, const uint8_t report_data[HTTPA_REPORT_DATA_LEN],
                            httpa_buf *evidence)
{
    tl_fake_attester *a = (tl_fake_attester *)self;
    uint8_t rd[HTTPA_REPORT_DATA_LEN], ev[TL_SIM_LEN];
    memcpy(rd, report_data, sizeof(rd));
    if (a->corrupt_report_data)
        rd[0] ^= 1;
    httpa_err e = tl_sim_quote(a->key, a->flags, a->svn, a->measurement, rd, ev);
    if (e == HTTPA_OK)
        e = httpa_buf_append(evidence, ev, sizeof(ev));
    if (e == HTTPA_OK)
        a->quotes++;
    return e;
}

httpa_err tl_fake_attester_init(tl_fake_attester *a, const uint8_t *seed,
                                const uint8_t measurement[32], uint32_t svn, uint16_t flags)
{
    memset(a, 0, sizeof(*a));
    a->base.tee = "sim";
    a->base.quote = fake_quote;
    memcpy(a->measurement, measurement, 32);
    a->svn = svn;
    a->flags = flags;
    return httpa_sign_key_new(HTTPA_ED25519, seed, seed != NULL ? 32 : 0, a->pub, &a->key);
}

void tl_fake_attester_clear(tl_fake_attester *a)
{
    httpa_sign_key_free(a->key);
    memset(a, 0, sizeof(*a));
}

/* Everything profile 7.6 lists; OK fills `out` with the report_data. */
static httpa_err sim_check(const tl_fake_verifier *v, httpa_span ev, httpa_appraisal *out)
{
    uint8_t msg[sizeof(SIM_CONTEXT) + SIM_SIGNED];
    if (ev.len != TL_SIM_LEN || memcmp(ev.base, SIM_MAGIC, 16) != 0)
        return HTTPA_ERR_BAD_QUOTE;
    uint16_t version = (uint16_t)(ev.base[16] << 8 | ev.base[17]);
    uint16_t flags = (uint16_t)(ev.base[18] << 8 | ev.base[19]);
    uint32_t svn = (uint32_t)ev.base[20] << 24 | (uint32_t)ev.base[21] << 16 |
                   (uint32_t)ev.base[22] << 8 | ev.base[23];
    if (version != 1)
        return HTTPA_ERR_BAD_QUOTE;
    sim_message(ev.base, msg);
    if (httpa_verify(HTTPA_ED25519, HTTPA_SPAN(v->pub, 32), HTTPA_SPAN(msg, sizeof(msg)),
                     HTTPA_SPAN(ev.base + SIM_SIGNED, HTTPA_SIG_LEN)) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    bool debug = (flags & TL_SIM_FLAG_DEBUG) != 0;
    if ((flags & ~TL_SIM_FLAG_DEBUG) != 0 || (debug && !v->allow_debug) || svn < v->min_svn ||
        (v->check_measurement && memcmp(ev.base + 24, v->measurement, 32) != 0))
        return HTTPA_ERR_BAD_QUOTE;
    memset(out, 0, sizeof(*out));
    memcpy(out->report_data, ev.base + 56, HTTPA_REPORT_DATA_LEN);
    memcpy(out->measurement, ev.base + 24, 32);
    out->measurement_len = 32;
    out->simulated = true;
    out->debug = debug;
    strcpy(out->tcb_status, "Simulated");
    return HTTPA_OK;
}

static httpa_err fake_appraise(httpa_verifier *self, const char *tee, const char *format,
                               httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    tl_fake_verifier *v = (tl_fake_verifier *)self;
    (void)now;
    v->calls++;
    if (strcmp(tee, "sim") != 0 || strcmp(format, "raw") != 0)
        return HTTPA_ERR_UNSUPPORTED;
    httpa_err e = sim_check(v, evidence, out);
    if (e == HTTPA_OK)
        v->accepted++;
    return e;
}

void tl_fake_verifier_init(tl_fake_verifier *v, const uint8_t pub[32], const uint8_t *measurement,
                           uint32_t min_svn)
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = fake_appraise;
    memcpy(v->pub, pub, 32);
    if (measurement != NULL) {
        v->check_measurement = true;
        memcpy(v->measurement, measurement, 32);
    }
    v->min_svn = min_svn;
}

static httpa_err fixed_fill(httpa_rng *self, uint8_t *out, size_t len)
{
    tl_rng *r = (tl_rng *)self;
    if (r->next < r->n) {
        httpa_buf *b = &r->items[r->next++];
        if (b->len != len) {
            r->mismatch = true;
            return HTTPA_ERR_INTERNAL;
        }
        memcpy(out, b->base, len);
        return HTTPA_OK;
    }
    return r->fallback ? httpa_random(out, len) : HTTPA_ERR_INTERNAL;
}

void tl_rng_init(tl_rng *r, bool fallback)
{
    memset(r, 0, sizeof(*r));
    r->base.fill = fixed_fill;
    r->fallback = fallback;
}

void tl_rng_push(tl_rng *r, const void *p, size_t len)
{
    if (r->n >= TL_RNG_MAX)
        fail_msg("tl_rng: queue full");
    httpa_buf_init(&r->items[r->n], len);
    assert_int_equal(httpa_buf_append(&r->items[r->n], p, len), HTTPA_OK);
    r->n++;
}

void tl_rng_push_hex(tl_rng *r, const char *hex)
{
    httpa_buf b = tl_hex(hex);
    tl_rng_push(r, b.base, b.len);
    httpa_buf_free(&b);
}

size_t tl_rng_left(const tl_rng *r)
{
    return r->n - r->next;
}

void tl_rng_free(tl_rng *r)
{
    for (size_t i = 0; i < r->n; i++)
        httpa_buf_free(&r->items[i]);
    memset(r, 0, sizeof(*r));
}
