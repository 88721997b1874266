/* The TA's appraisal: verify the evidence (DCAP with collateral, or the
 * simulated TEE when allowed), apply the policy, choose the verdict and sign
 * the result. Failures of the evidence itself are evidence-rejected (422);
 * missing or stale collateral is the TA's own problem (503), named so. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dcap_int.h"
#include "httpa/crypto.h"
#include "ta_int.h"

void ta_outcome_init(ta_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->problem = HTTPA_TA_P__COUNT;
    httpa_buf_init(&o->token, HTTPA_EAT_TOKEN_MAX);
}

void ta_outcome_free(ta_outcome *o)
{
    httpa_buf_free(&o->token);
}

static void fail(ta_outcome *o, httpa_ta_problem p, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(ta_outcome *o, httpa_ta_problem p, const char *reason, const char *fmt, ...)
{
    va_list ap;
    o->problem = p;
    snprintf(o->reason, sizeof(o->reason), "%s", reason != NULL ? reason : "");
    va_start(ap, fmt);
    vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
    va_end(ap);
}

/* What the verifier established, before the policy. */
typedef struct ta_found {
    httpa_claims pc;       /* for the policy engine */
    int64_t expires;       /* earliest collateral nextUpdate; 0: none */
    bool up_to_date;       /* TCB UpToDate and no advisory */
} ta_found;

/* ---- simulated TEE ---- */

static bool appraise_sim(httpa_ta *ta, httpa_span ev, int64_t now, ta_outcome *o, ta_found *f)
{
    httpa_appraisal a;
    httpa_sim_evidence se;
    if (!ta->allow_sim) {
        fail(o, HTTPA_TA_P_UNSUPPORTED_TEE, NULL,
             "simulated evidence is not enabled on this TA (httpa-ta --allow-sim)");
        return false;
    }
    if (ta->sim.base.appraise(&ta->sim.base, "sim", "raw", ev, now, &a) != HTTPA_OK ||
        httpa_sim_evidence_parse(ev, &se) != HTTPA_OK) {
        fail(o, HTTPA_TA_P_EVIDENCE_REJECTED, "SIM_EVIDENCE_INVALID",
             "not a sim quote (184 octets) signed by the configured simulated attestation key");
        return false;
    }
    httpa_eat_claims *c = &o->claims;
    memcpy(c->report_data, se.report_data, HTTPA_REPORT_DATA_LEN);
    memcpy(c->m.sim.measurement, se.measurement, 32);
    c->m.sim.svn = se.svn;
    c->m.debug = a.debug;
    snprintf(c->tcb_status, sizeof(c->tcb_status), "UpToDate"); /* as profile vector A.3 */
    f->pc = (httpa_claims){.tee = HTTPA_POLICY_SIM, .simulated = true, .debug = a.debug};
    memcpy(f->pc.sim.measurement, se.measurement, 32);
    f->pc.sim.svn = se.svn;
    f->up_to_date = true;
    return true;
}

/* ---- DCAP ---- */

static bool col_matches(const httpa_dcap_collateral *c, bool tdx, const uint8_t fmspc[6],
                        int64_t now)
{
    return c != NULL && c->tcb.tdx == tdx && memcmp(c->tcb.fmspc, fmspc, 6) == 0 &&
           (now < 0 || httpa_dcap_collateral_expiry(c) > now);
}

/* Warm collateral for the platform: configured, or fetched earlier. */
static const httpa_dcap_collateral *find_col(httpa_ta *ta, bool tdx, const uint8_t fmspc[6],
                                             int64_t now)
{
    const httpa_dcap_collateral *hit = NULL;
    for (size_t i = 0; hit == NULL && i < ta->ncols; i++)
        if (col_matches(ta->cols[i], tdx, fmspc, -1))
            hit = ta->cols[i];
    pthread_mutex_lock(&ta->mu);
    for (size_t i = 0; hit == NULL && i < ta->nfetched; i++)
        if (col_matches(ta->fetched[i], tdx, fmspc, now))
            hit = ta->fetched[i];
    pthread_mutex_unlock(&ta->mu);
    return hit;
}

/* From the PCCS; kept for later requests while there is room (never freed
 * before httpa_ta_free, so a collateral in use is never released). *own is
 * set when the caller must free it. */
static httpa_dcap_collateral *fetch_col(httpa_ta *ta, httpa_span ev, int64_t now, ta_outcome *o,
                                        bool *own)
{
    httpa_dcap_collateral *c = NULL;
    httpa_pcs_result res;
    memset(&res, 0, sizeof(res));
    *own = false;
    httpa_err e = httpa_pcs_get_for_quote(ta->pcs, ev, now, &c, &res);
    if (e != HTTPA_OK) {
        fail(o, HTTPA_TA_P_NO_COLLATERAL, "PCCS_FAILED", "PCCS: %s: %s", httpa_strerror(e),
             res.detail);
        return NULL;
    }
    pthread_mutex_lock(&ta->mu);
    if (ta->nfetched < HTTPA_TA_MAX_COLLATERALS)
        ta->fetched[ta->nfetched++] = c;
    else
        *own = true;
    pthread_mutex_unlock(&ta->mu);
    return c;
}

static bool stale_reason(httpa_dcap_reason r)
{
    return r >= HTTPA_DCAP_TCB_INFO_EXPIRED && r <= HTTPA_DCAP_PCK_CRL_NOT_YET_VALID;
}

static bool platform_reason(httpa_dcap_reason r)
{
    return r == HTTPA_DCAP_NO_COLLATERAL || r == HTTPA_DCAP_COLLATERAL_TEE_MISMATCH ||
           r == HTTPA_DCAP_FMSPC_MISMATCH || r == HTTPA_DCAP_PCEID_MISMATCH;
}

static void dcap_failed(ta_outcome *o, httpa_err e, const httpa_dcap_result *r, int64_t now)
{
    const char *name = httpa_dcap_reason_name(r->diag.reason);
    if (e != HTTPA_ERR_BAD_QUOTE)
        fail(o, HTTPA_TA_P_INTERNAL, name, "verification failed: %s", httpa_strerror(e));
    else if (stale_reason(r->diag.reason))
        fail(o, HTTPA_TA_P_STALE_COLLATERAL, name,
             "%s at the appraisal time %lld (%s): refresh the collateral",
             httpa_dcap_reason_text(r->diag.reason), (long long)now, r->diag.detail);
    else if (platform_reason(r->diag.reason))
        fail(o, HTTPA_TA_P_NO_COLLATERAL, name, "%s (%s)", httpa_dcap_reason_text(r->diag.reason),
             r->diag.detail);
    else
        fail(o, HTTPA_TA_P_EVIDENCE_REJECTED, name, "%s%s%s",
             httpa_dcap_reason_text(r->diag.reason), r->diag.detail[0] ? ": " : "",
             r->diag.detail);
}

static void dcap_claims(const httpa_dcap_result *r, httpa_eat_claims *c)
{
    bool tdx = r->tee_type == HTTPA_DCAP_TEE_TDX;
    memcpy(c->report_data, r->report_data, HTTPA_REPORT_DATA_LEN);
    c->m.debug = r->debug;
    if (tdx) {
        memcpy(c->m.tdx.mrtd, r->td.mrtd, 48);
        memcpy(c->m.tdx.rtmr, r->td.rtmr, sizeof(c->m.tdx.rtmr));
        memcpy(c->m.tdx.mrconfigid, r->td.mrconfigid, 48);
        memcpy(c->m.tdx.mrowner, r->td.mrowner, 48);
        memcpy(c->m.tdx.mrownerconfig, r->td.mrownerconfig, 48);
    } else {
        memcpy(c->m.sgx.mrenclave, r->sgx.mrenclave, 32);
        memcpy(c->m.sgx.mrsigner, r->sgx.mrsigner, 32);
        c->m.sgx.isvprodid = r->sgx.isvprodid;
        c->m.sgx.isvsvn = r->sgx.isvsvn;
    }
    snprintf(c->tcb_status, sizeof(c->tcb_status), "%s", httpa_dcap_tcb_status_name(r->status));
    c->nadvisories = r->nadvisories < HTTPA_EAT_MAX_ADVISORIES ? r->nadvisories
                                                               : HTTPA_EAT_MAX_ADVISORIES;
    for (size_t i = 0; i < c->nadvisories; i++)
        snprintf(c->advisory_ids[i], HTTPA_ADVISORY_ID_MAX, "%s", r->advisory_ids[i]);
    c->collateral_issued = r->collateral_issued;
}

/* The collateral for the quote, or NULL with the outcome set. */
static const httpa_dcap_collateral *collateral_for(httpa_ta *ta, httpa_span ev, bool tdx,
                                                   int64_t now, ta_outcome *o, bool *own)
{
    uint8_t fmspc[6];
    bool qtdx = false;
    *own = false;
    if (!dcap_quote_fmspc(ev, fmspc, &qtdx)) {
        fail(o, HTTPA_TA_P_EVIDENCE_REJECTED, "PCK_EXTENSION_MALFORMED",
             "the FMSPC cannot be read from the quote's PCK certificate");
        return NULL;
    }
    const httpa_dcap_collateral *c = find_col(ta, tdx, fmspc, now);
    if (c == NULL && ta->pcs != NULL)
        return fetch_col(ta, ev, now, o, own);
    if (c == NULL)
        fail(o, HTTPA_TA_P_NO_COLLATERAL, "NO_COLLATERAL",
             "no %s collateral for FMSPC %02x%02x%02x%02x%02x%02x in --collateral-dir",
             tdx ? "TDX" : "SGX", fmspc[0], fmspc[1], fmspc[2], fmspc[3], fmspc[4], fmspc[5]);
    return c;
}

static bool appraise_dcap(httpa_ta *ta, const char *tee, httpa_span ev, int64_t now,
                          ta_outcome *o, ta_found *f)
{
    httpa_dcap_quote q;
    httpa_dcap_diag d = {0};
    httpa_dcap_result r;
    bool tdx = strcmp(tee, "tdx") == 0, own = false;
    if (ta->trust == NULL) {
        fail(o, HTTPA_TA_P_UNSUPPORTED_TEE, NULL,
             "this TA has no collateral source for hardware TEEs");
        return false;
    }
    if (httpa_dcap_quote_parse(ev, &q, &d) != HTTPA_OK) {
        fail(o, HTTPA_TA_P_EVIDENCE_REJECTED, httpa_dcap_reason_name(d.reason), "%s: %s",
             httpa_dcap_reason_text(d.reason), d.detail);
        return false;
    }
    if ((q.tee_type == HTTPA_DCAP_TEE_TDX) != tdx) {
        fail(o, HTTPA_TA_P_EVIDENCE_REJECTED, "TEE_MISMATCH", "the quote is not a %s quote", tee);
        return false;
    }
    const httpa_dcap_collateral *col = collateral_for(ta, ev, tdx, now, o, &own);
    if (col == NULL)
        return false;
    httpa_err e = httpa_dcap_verify(ta->trust, ev, col, now, &r);
    if (own)
        httpa_dcap_collateral_free((httpa_dcap_collateral *)col);
    if (e != HTTPA_OK) {
        dcap_failed(o, e, &r, now);
        return false;
    }
    dcap_claims(&r, &o->claims);
    httpa_dcap_result_claims(&r, &f->pc);
    f->pc.advisory_ids = (const char(*)[HTTPA_ADVISORY_ID_MAX])o->claims.advisory_ids;
    f->pc.tcb_status = o->claims.tcb_status;
    f->expires = r.collateral_expires;
    f->up_to_date = r.status == HTTPA_TCB_UP_TO_DATE && r.nadvisories == 0;
    return true;
}

/* ---- verdict and token ---- */

static void judge(httpa_ta *ta, ta_found *f, int64_t now, ta_outcome *o)
{
    httpa_policy_verdict pv;
    httpa_err e = httpa_policy_evaluate(ta->policy, &f->pc, now, &pv);
    if (e != HTTPA_OK) {
        o->claims.verdict = HTTPA_EAT_VERDICT_CONTRAINDICATED;
        snprintf(o->reason, sizeof(o->reason), "%s", httpa_policy_reason_name(pv.reason));
        snprintf(o->detail, sizeof(o->detail), "%s", pv.detail);
    } else {
        o->claims.verdict = f->up_to_date ? HTTPA_EAT_VERDICT_AFFIRMING : HTTPA_EAT_VERDICT_WARNING;
    }
}

static void sign(httpa_ta *ta, int64_t now, ta_outcome *o)
{
    httpa_eat_signer s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_lock(&ta->mu);
    ta_keys_tick(&ta->keys, now);
    ta_key *k = ta_keys_current(&ta->keys);
    if (k != NULL) {
        s = k->s;
        if (o->claims.exp > k->last_exp)
            k->last_exp = o->claims.exp;
    }
    pthread_mutex_unlock(&ta->mu);
    if (k == NULL) {
        fail(o, HTTPA_TA_P_INTERNAL, NULL, "no signing key");
        return;
    }
    snprintf(o->kid, sizeof(o->kid), "%s", s.kid);
    httpa_err e = httpa_eat_issue(&s, &o->claims, &o->token);
    httpa_eat_signer_clear(&s);
    if (e != HTTPA_OK)
        fail(o, HTTPA_TA_P_INTERNAL, NULL, "cannot sign the result: %s", httpa_strerror(e));
}

void ta_appraise(httpa_ta *ta, const httpa_ta_appraise_req *req, int64_t now, ta_outcome *o)
{
    ta_found f;
    httpa_span ev = httpa_buf_span(&req->evidence);
    httpa_eat_claims *c = &o->claims;
    memset(&f, 0, sizeof(f));
    bool ok = false;
    if (strcmp(req->tee, "sim") == 0)
        ok = appraise_sim(ta, ev, now, o, &f);
    else if (strcmp(req->tee, "sgx") == 0 || strcmp(req->tee, "tdx") == 0)
        ok = appraise_dcap(ta, req->tee, ev, now, o, &f);
    else
        fail(o, HTTPA_TA_P_UNSUPPORTED_TEE, NULL, "TEE \"%.16s\": this TA appraises sgx, tdx%s",
             req->tee, ta->allow_sim ? " and sim" : "");
    if (!ok)
        return;
    if (req->has_nonce && !httpa_ct_equal(req->nonce, c->report_data, HTTPA_REPORT_DATA_LEN)) {
        fail(o, HTTPA_TA_P_REPORT_DATA_MISMATCH, NULL,
             "the evidence's report_data is not the given nonce");
        return;
    }
    snprintf(c->iss, sizeof(c->iss), "%s", ta->issuer);
    snprintf(c->tee, sizeof(c->tee), "%s", req->tee);
    c->iat = now;
    c->exp = now + ta->ttl;
    if (f.expires != 0 && f.expires < c->exp)
        c->exp = f.expires;
    if (c->exp <= now) {
        fail(o, HTTPA_TA_P_STALE_COLLATERAL, NULL, "the collateral expires at the appraisal time");
        return;
    }
    if (httpa_hash(HTTPA_SHA256, ev, c->evidence_sha256) != HTTPA_OK) {
        fail(o, HTTPA_TA_P_INTERNAL, NULL, "hash failure");
        return;
    }
    judge(ta, &f, now, o);
    sign(ta, now, o);
}
