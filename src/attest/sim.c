/* The simulated TEE of profile 7.6. */
#include <string.h>

#include "httpa/sim.h"

#define SIM_MAGIC "httpa2-sim-quote"
#define SIM_SIGNED_LEN 120
#define SIM_SIG_CONTEXT "httpa2 sim quote"

httpa_err httpa_sim_evidence_parse(httpa_span in, httpa_sim_evidence *out)
{
    if (in.len != HTTPA_SIM_EVIDENCE_LEN || memcmp(in.base, SIM_MAGIC, 16) != 0)
        return HTTPA_ERR_BAD_QUOTE;
    const uint8_t *p = in.base + 16;
    out->version = (uint16_t)(p[0] << 8 | p[1]);
    out->flags = (uint16_t)(p[2] << 8 | p[3]);
    out->svn = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    memcpy(out->measurement, p + 8, sizeof(out->measurement));
    memcpy(out->report_data, p + 40, sizeof(out->report_data));
    memcpy(out->signature, p + 104, sizeof(out->signature));
    return out->version == 1 ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
}

/* The signed message: "httpa2 sim quote" 0x00 || octets 0..119. */
static void sim_signed_message(const uint8_t *ev, uint8_t msg[sizeof(SIM_SIG_CONTEXT) + SIM_SIGNED_LEN])
{
    memcpy(msg, SIM_SIG_CONTEXT, sizeof(SIM_SIG_CONTEXT)); /* includes the 0x00 */
    memcpy(msg + sizeof(SIM_SIG_CONTEXT), ev, SIM_SIGNED_LEN);
}

static httpa_err sim_quote(httpa_attester *self, const uint8_t report_data[HTTPA_REPORT_DATA_LEN],
                           httpa_buf *evidence)
{
    httpa_sim_attester *a = (httpa_sim_attester *)self;
    uint8_t ev[HTTPA_SIM_EVIDENCE_LEN];
    uint8_t msg[sizeof(SIM_SIG_CONTEXT) + SIM_SIGNED_LEN];

    memcpy(ev, SIM_MAGIC, 16);
    httpa_put_u16(ev + 16, 1);
    httpa_put_u16(ev + 18, a->flags);
    httpa_put_u32(ev + 20, a->svn);
    memcpy(ev + 24, a->measurement, HTTPA_SIM_MEASUREMENT_LEN);
    memcpy(ev + 56, report_data, HTTPA_REPORT_DATA_LEN);
    sim_signed_message(ev, msg);
    httpa_err e = httpa_sign(a->key, HTTPA_SPAN(msg, sizeof(msg)), ev + 120);
    if (e == HTTPA_OK)
        e = httpa_buf_append(evidence, ev, sizeof(ev));
    return e;
}

httpa_err httpa_sim_attester_init(httpa_sim_attester *a, const uint8_t *seed,
                                  const uint8_t measurement[HTTPA_SIM_MEASUREMENT_LEN],
                                  uint32_t svn, bool debug)
{
    memset(a, 0, sizeof(*a));
    a->base.tee = "sim";
    a->base.quote = sim_quote;
    memcpy(a->measurement, measurement, HTTPA_SIM_MEASUREMENT_LEN);
    a->svn = svn;
    a->flags = debug ? HTTPA_SIM_FLAG_DEBUG : 0;
    return httpa_sign_key_new(HTTPA_ED25519, seed, seed ? 32 : 0, a->pub, &a->key);
}

void httpa_sim_attester_clear(httpa_sim_attester *a)
{
    httpa_sign_key_free(a->key);
    httpa_wipe(a, sizeof(*a));
}

static bool measurement_allowed(const httpa_sim_verifier *v, const uint8_t *m)
{
    if (v->measurements == NULL)
        return true;
    for (size_t i = 0; i < v->nmeasurements; i++)
        if (memcmp(v->measurements[i], m, HTTPA_SIM_MEASUREMENT_LEN) == 0)
            return true;
    return false;
}

static httpa_err sim_appraise(httpa_verifier *self, const char *tee, const char *format,
                              httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    const httpa_sim_verifier *v = (const httpa_sim_verifier *)self;
    httpa_sim_evidence ev;
    uint8_t msg[sizeof(SIM_SIG_CONTEXT) + SIM_SIGNED_LEN];
    (void)now;

    if (strcmp(tee, "sim") != 0 || strcmp(format, "raw") != 0)
        return HTTPA_ERR_UNSUPPORTED;
    if (httpa_sim_evidence_parse(evidence, &ev) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    sim_signed_message(evidence.base, msg);
    if (httpa_verify(HTTPA_ED25519, HTTPA_SPAN(v->pub, 32), HTTPA_SPAN(msg, sizeof(msg)),
                     HTTPA_SPAN(ev.signature, HTTPA_SIG_LEN)) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    if ((ev.flags & ~HTTPA_SIM_FLAG_DEBUG) != 0)
        return HTTPA_ERR_BAD_QUOTE;
    bool debug = (ev.flags & HTTPA_SIM_FLAG_DEBUG) != 0;
    if ((debug && !v->allow_debug) || ev.svn < v->min_svn ||
        !measurement_allowed(v, ev.measurement))
        return HTTPA_ERR_POLICY_VIOLATION;

    memset(out, 0, sizeof(*out));
    memcpy(out->report_data, ev.report_data, HTTPA_REPORT_DATA_LEN);
    memcpy(out->measurement, ev.measurement, HTTPA_SIM_MEASUREMENT_LEN);
    out->measurement_len = HTTPA_SIM_MEASUREMENT_LEN;
    out->simulated = true;
    out->debug = debug;
    memcpy(out->tcb_status, "Simulated", sizeof("Simulated"));
    return HTTPA_OK;
}

void httpa_sim_verifier_init(httpa_sim_verifier *v, const uint8_t pub[32])
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = sim_appraise;
    memcpy(v->pub, pub, 32);
}
