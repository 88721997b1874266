/* httpa_dcap_verifier: the engine's httpa_verifier for "sgx" and "tdx" raw
 * evidence. It chooses the collateral, runs httpa_dcap_verify, checks that
 * the quote is of the TEE type its Attest-Quotes token claims, applies the
 * policy, and remembers verdicts in an optional cache. */
#include <stdio.h>
#include <string.h>

#include "dcap_int.h"
#include "httpa/crypto.h"

static httpa_err appraise_cb(httpa_verifier *self, const char *tee, const char *format,
                             httpa_span evidence, int64_t now, httpa_appraisal *out);

void httpa_dcap_verifier_init(httpa_dcap_verifier *v, const httpa_dcap_trust *trust,
                              const httpa_dcap_collateral *const *collaterals, size_t n,
                              const httpa_policy *policy)
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = appraise_cb;
    v->trust = trust;
    v->collaterals = collaterals;
    v->ncollaterals = n;
    v->policy = policy;
}

/* The collateral for the quote's TEE type and FMSPC; failing that, one of
 * the right TEE type (verification then names the FMSPC mismatch), or any
 * (it then names the TEE mismatch). */
static const httpa_dcap_collateral *pick(const httpa_dcap_verifier *v, httpa_span evidence)
{
    uint8_t fmspc[6];
    bool tdx = false;
    /* With one collateral of the quote's TEE type the FMSPC cannot change
     * the choice: skip decoding the PCK certificate for it. */
    httpa_dcap_quote q;
    const httpa_dcap_collateral *only = NULL;
    size_t same = 0;
    bool parsed = httpa_dcap_quote_parse(evidence, &q, NULL) == HTTPA_OK;
    for (size_t i = 0; parsed && i < v->ncollaterals; i++)
        if (v->collaterals[i] != NULL
            && v->collaterals[i]->tcb.tdx == (q.tee_type == HTTPA_DCAP_TEE_TDX)) {
            only = v->collaterals[i];
            same++;
        }
    if (same == 1)
        return only;
    bool known = dcap_quote_fmspc(evidence, fmspc, &tdx);
    const httpa_dcap_collateral *any = NULL, *same_tee = NULL;
    for (size_t i = 0; i < v->ncollaterals; i++) {
        const httpa_dcap_collateral *c = v->collaterals[i];
        if (c == NULL)
            continue;
        any = any != NULL ? any : c;
        if (!known || c->tcb.tdx != tdx)
            continue;
        same_tee = same_tee != NULL ? same_tee : c;
        if (memcmp(c->tcb.fmspc, fmspc, sizeof(fmspc)) == 0)
            return c;
    }
    return same_tee != NULL ? same_tee : any;
}

static void verdict_set(httpa_verdict *vd, httpa_err e, const char *reason, const char *detail)
{
    vd->err = e;
    snprintf(vd->reason, sizeof(vd->reason), "%s", reason);
    snprintf(vd->detail, sizeof(vd->detail), "%s", detail);
}

static void fill_appraisal(const httpa_dcap_result *r, httpa_appraisal *a)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->report_data, r->report_data, HTTPA_REPORT_DATA_LEN);
    a->debug = r->debug;
    /* tcb_status has 32 octets: "ConfigurationAndSWHardeningNeeded" is cut
     * there; the policy has already judged the full status. */
    snprintf(a->tcb_status, sizeof(a->tcb_status), "%s", httpa_dcap_tcb_status_name(r->status));
    bool tdx = r->tee_type == HTTPA_DCAP_TEE_TDX;
    a->measurement_len = tdx ? sizeof(r->td.mrtd) : sizeof(r->sgx.mrenclave);
    memcpy(a->measurement, tdx ? r->td.mrtd : r->sgx.mrenclave, a->measurement_len);
}

/* Verify and judge; `expires` bounds how long the verdict may be cached. */
static void decide(const httpa_dcap_verifier *v, const char *tee, httpa_span evidence,
                   int64_t now, httpa_verdict *vd, int64_t *expires)
{
    httpa_dcap_result r;
    const httpa_dcap_collateral *col = pick(v, evidence);
    *expires = INT64_MAX;
    if (col == NULL) {
        verdict_set(vd, HTTPA_ERR_BAD_QUOTE, httpa_dcap_reason_name(HTTPA_DCAP_NO_COLLATERAL), tee);
        return;
    }
    httpa_err e = httpa_dcap_verify(v->trust, evidence, col, now, &r);
    if (r.collateral_expires != 0)
        *expires = r.collateral_expires;
    if (e == HTTPA_OK && (r.tee_type == HTTPA_DCAP_TEE_TDX) != (strcmp(tee, "tdx") == 0)) {
        e = HTTPA_ERR_BAD_QUOTE;
        r.diag.reason = HTTPA_DCAP_TEE_MISMATCH;
        snprintf(r.diag.detail, sizeof(r.diag.detail), "token %s", tee);
    }
    if (e != HTTPA_OK) {
        verdict_set(vd, e, httpa_dcap_reason_name(r.diag.reason), r.diag.detail);
        return;
    }
    httpa_claims c;
    httpa_policy_verdict pv;
    httpa_dcap_result_claims(&r, &c);
    e = httpa_policy_evaluate(v->policy, &c, now, &pv);
    verdict_set(vd, e, httpa_policy_reason_name(pv.reason), pv.detail);
    if (e == HTTPA_OK)
        fill_appraisal(&r, &vd->appraisal);
}

static bool cacheable(httpa_err e)
{
    /* Local failures (memory, library) say nothing about the evidence. */
    return e == HTTPA_OK || e == HTTPA_ERR_BAD_QUOTE || e == HTTPA_ERR_POLICY_VIOLATION;
}

static void judge(httpa_dcap_verifier *v, const char *tee, httpa_span evidence, int64_t now,
                  httpa_verdict *vd)
{
    uint8_t h[32];
    int64_t expires;
    const uint8_t *ph = httpa_policy_hash(v->policy);
    bool use_cache = v->cache != NULL && httpa_hash(HTTPA_SHA256, evidence, h) == HTTPA_OK;
    if (use_cache && httpa_verdict_cache_get(v->cache, h, ph, now, vd)
        && strcmp(vd->tee, tee) == 0)
        return;
    memset(vd, 0, sizeof(*vd));
    snprintf(vd->tee, sizeof(vd->tee), "%s", tee);
    decide(v, tee, evidence, now, vd, &expires);
    if (use_cache && cacheable(vd->err))
        httpa_verdict_cache_put(v->cache, h, ph, now, expires, vd);
}

httpa_err httpa_dcap_verifier_appraise(httpa_dcap_verifier *v, const char *tee,
                                       const char *format, httpa_span evidence, int64_t now,
                                       httpa_appraisal *out, httpa_verdict *verdict)
{
    httpa_verdict local;
    httpa_verdict *vd = verdict != NULL ? verdict : &local;
    memset(vd, 0, sizeof(*vd));
    if (v == NULL || tee == NULL || format == NULL || strcmp(format, "raw") != 0
        || (strcmp(tee, "sgx") != 0 && strcmp(tee, "tdx") != 0)) {
        verdict_set(vd, HTTPA_ERR_UNSUPPORTED, "UNSUPPORTED", "not sgx or tdx raw evidence");
        return HTTPA_ERR_UNSUPPORTED;
    }
    if (v->policy == NULL) {
        snprintf(vd->tee, sizeof(vd->tee), "%s", tee);
        verdict_set(vd, HTTPA_ERR_POLICY_VIOLATION, httpa_policy_reason_name(HTTPA_POLICY_NO_POLICY),
                    httpa_policy_reason_text(HTTPA_POLICY_NO_POLICY));
    } else {
        judge(v, tee, evidence, now, vd);
    }
    if (vd->err == HTTPA_OK && out != NULL)
        *out = vd->appraisal;
    else if (vd->err != HTTPA_OK && v->on_reject != NULL)
        v->on_reject(v->on_reject_arg, tee, vd->err, vd->reason, vd->detail);
    return vd->err;
}

static httpa_err appraise_cb(httpa_verifier *self, const char *tee, const char *format,
                             httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    return httpa_dcap_verifier_appraise((httpa_dcap_verifier *)self, tee, format, evidence, now,
                                        out, NULL);
}
