/* Verifying stapled results (profile 7.7): the token checks, in a fixed
 * order so that a given defect always gets the same reason: form, header
 * (duplicates, alg, crit, kid, typ), key by kid (unknown: ignored), claims
 * JSON, ES256 signature (cjose), claim types, iat/exp, eat_profile,
 * httpa2_tee. The verifier then judges the verdict and applies the policy. */
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>

#include "dcap_int.h"
#include "eat_int.h"
#include "httpa/crypto.h"

/* The three parts of a compact JWS. */
typedef struct jws_parts {
    const char *part[3];
    size_t len[3];
} jws_parts;

static bool b64u_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static httpa_err split(httpa_span t, jws_parts *p, httpa_eat_diag *d)
{
    size_t k = 0, start = 0;
    if (t.len > HTTPA_EAT_TOKEN_MAX)
        return eat_fail(d, HTTPA_EAT_TOO_LARGE, "%zu octets", t.len);
    for (size_t i = 0; i <= t.len; i++) {
        if (i < t.len && b64u_char(t.base[i]))
            continue;
        if (i < t.len && t.base[i] != '.')
            return eat_fail(d, HTTPA_EAT_MALFORMED, "octet 0x%02x at %zu", t.base[i], i);
        if (k == 3 || i == start)
            return eat_fail(d, HTTPA_EAT_MALFORMED, "not three non-empty parts");
        p->part[k] = (const char *)t.base + start;
        p->len[k++] = i - start;
        start = i + 1;
    }
    return k == 3 ? HTTPA_OK : eat_fail(d, HTTPA_EAT_MALFORMED, "not three non-empty parts");
}

/* A base64url JSON object, duplicates refused. */
static httpa_err load_object(const char *b64, size_t len, httpa_eat_reason bad, json_t **out,
                             httpa_eat_diag *d)
{
    json_error_t je;
    httpa_buf b;
    *out = NULL;
    httpa_buf_init(&b, HTTPA_EAT_TOKEN_MAX);
    if (httpa_base64url_decode(b64, len, &b) != HTTPA_OK) {
        httpa_buf_free(&b);
        return eat_fail(d, bad, "not canonical base64url");
    }
    json_t *o = json_loadb((const char *)b.base, b.len, JSON_REJECT_DUPLICATES, &je);
    httpa_buf_free(&b);
    if (o == NULL && json_error_code(&je) == json_error_duplicate_key)
        return eat_fail(d, HTTPA_EAT_DUPLICATE_MEMBER, "%s", je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return eat_fail(d, bad, "%s", o == NULL ? je.text : "not a JSON object");
    }
    *out = o;
    return HTTPA_OK;
}

static httpa_err check_header(json_t *h, const char **kid, httpa_eat_diag *d)
{
    json_t *alg = json_object_get(h, "alg"), *k = json_object_get(h, "kid");
    json_t *typ = json_object_get(h, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0 ||
        json_string_length(alg) != 5)
        return eat_fail(d, HTTPA_EAT_ALG_NOT_ES256, "alg %.32s",
                        json_is_string(alg) ? json_string_value(alg) : "(missing)");
    if (json_object_get(h, "crit") != NULL)
        return eat_fail(d, HTTPA_EAT_CRIT, "crit makes the token invalid (7.7)");
    if (!json_is_string(k) || json_string_length(k) == 0 ||
        json_string_length(k) >= HTTPA_EAT_KID_MAX ||
        strlen(json_string_value(k)) != json_string_length(k))
        return eat_fail(d, HTTPA_EAT_KID_MISSING, "kid");
    /* typ SHOULD be JWT (7.7): any other string is accepted, a non-string is malformed */
    if (typ != NULL && !json_is_string(typ))
        return eat_fail(d, HTTPA_EAT_TYP_MALFORMED, "typ");
    *kid = json_string_value(k);
    return HTTPA_OK;
}

/* ES256 with the configured key, by cjose (the header was checked above,
 * so cjose sees alg ES256 only). The key object is made from the raw point
 * for each call: no shared state, and no PEM decoding on this path. */
static httpa_err check_signature(const httpa_eat_key *k, httpa_span t, httpa_eat_diag *d)
{
    cjose_err err;
    cjose_jwk_ec_keyspec spec = {.crv = CJOSE_JWK_EC_P_256, .x = (uint8_t *)k->pub + 1,
                                 .xlen = 32, .y = (uint8_t *)k->pub + 33, .ylen = 32};
    cjose_jwk_t *jwk = cjose_jwk_create_EC_spec(&spec, &err);
    if (jwk == NULL)
        return err.code == CJOSE_ERR_NO_MEMORY ? HTTPA_ERR_NOMEM : HTTPA_ERR_LIBRARY;
    cjose_jws_t *jws = cjose_jws_import((const char *)t.base, t.len, &err);
    bool ok = jws != NULL && cjose_jws_verify(jws, jwk, &err);
    cjose_jws_release(jws);
    cjose_jwk_release(jwk);
    if (!ok && err.code == CJOSE_ERR_NO_MEMORY)
        return HTTPA_ERR_NOMEM;
    return ok ? HTTPA_OK : eat_fail(d, HTTPA_EAT_SIGNATURE_INVALID, "under key %s", k->kid);
}

/* ---- claims ---- */

static httpa_err claim(json_t *c, const char *name, json_t **v, httpa_eat_diag *d)
{
    *v = json_object_get(c, name);
    return *v != NULL ? HTTPA_OK : eat_fail(d, HTTPA_EAT_CLAIM_MISSING, "%s", name);
}

static httpa_err claim_str(json_t *c, const char *name, size_t max, const char **out,
                           httpa_eat_diag *d)
{
    json_t *v = NULL;
    httpa_err e = claim(c, name, &v, d);
    if (e == HTTPA_OK && (!json_is_string(v) || json_string_length(v) >= max ||
                          strlen(json_string_value(v)) != json_string_length(v)))
        e = eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "%s must be a string (under %zu octets)", name, max);
    *out = e == HTTPA_OK ? json_string_value(v) : NULL;
    return e;
}

static httpa_err claim_int(json_t *c, const char *name, int64_t *out, httpa_eat_diag *d)
{
    json_t *v = NULL;
    httpa_err e = claim(c, name, &v, d);
    if (e == HTTPA_OK && !json_is_integer(v))
        e = eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "%s must be an integer", name);
    *out = e == HTTPA_OK ? (int64_t)json_integer_value(v) : 0;
    return e;
}

static httpa_err claim_b64u(json_t *c, const char *name, uint8_t *out, size_t n,
                            httpa_eat_diag *d)
{
    const char *s = NULL;
    httpa_err e = claim_str(c, name, 4 * n, &s, d);
    if (e == HTTPA_OK && !eat_b64u_exact(s, strlen(s), out, n))
        e = eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "%s must be base64url of %zu octets", name, n);
    return e;
}

static httpa_err parse_verdict(json_t *c, httpa_eat_verdict *v, httpa_eat_diag *d)
{
    static const httpa_eat_verdict all[] = {HTTPA_EAT_VERDICT_AFFIRMING, HTTPA_EAT_VERDICT_WARNING,
                                            HTTPA_EAT_VERDICT_CONTRAINDICATED};
    const char *s = NULL;
    httpa_err e = claim_str(c, "httpa2_verdict", 32, &s, d);
    for (size_t i = 0; e == HTTPA_OK && i < 3; i++)
        if (strcmp(s, httpa_eat_verdict_name(all[i])) == 0) {
            *v = all[i];
            return HTTPA_OK;
        }
    return e != HTTPA_OK ? e : eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_verdict %.32s", s);
}

static bool member_value(const eat_member *m, json_t *v, httpa_eat_measurements *out)
{
    uint8_t buf[48];
    uint8_t *dst = m->offset == SIZE_MAX ? buf : (uint8_t *)out + m->offset;
    if (m->kind == EAT_BOOL) {
        if (!json_is_boolean(v))
            return false;
        if (m->offset != SIZE_MAX)
            *(bool *)dst = json_is_true(v);
        return true;
    }
    if (m->kind == EAT_HEX)
        return json_is_string(v) &&
               dcap_hex_decode(json_string_value(v), json_string_length(v), dst, m->len);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > m->max)
        return false;
    uint64_t n = (uint64_t)json_integer_value(v);
    if (m->offset != SIZE_MAX && m->len == 2)
        *(uint16_t *)dst = (uint16_t)n;
    else if (m->offset != SIZE_MAX && m->len == 4)
        *(uint32_t *)dst = (uint32_t)n;
    return true;
}

static httpa_err parse_measurements(json_t *c, const char *tee, httpa_eat_measurements *out,
                                    httpa_eat_diag *d)
{
    size_t n = 0;
    json_t *o = NULL;
    const eat_member *schema = eat_schema(tee, &n);
    httpa_err e = claim(c, "httpa2_claims", &o, d);
    if (e == HTTPA_OK && !json_is_object(o))
        return eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_claims must be an object");
    if (e == HTTPA_OK && schema == NULL)
        return eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_tee %.16s is not a TEE token", tee);
    for (size_t i = 0; e == HTTPA_OK && i < n; i++) {
        json_t *v = json_object_get(o, schema[i].name);
        if (v == NULL)
            e = eat_fail(d, HTTPA_EAT_CLAIM_MISSING, "httpa2_claims.%s", schema[i].name);
        else if (!member_value(&schema[i], v, out))
            e = eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_claims.%s", schema[i].name);
    }
    return e;
}

static httpa_err parse_advisories(json_t *c, httpa_eat_claims *out, httpa_eat_diag *d)
{
    size_t i;
    json_t *v = NULL, *a = json_object_get(c, "httpa2_advisory_ids");
    if (a == NULL)
        return HTTPA_OK;
    if (!json_is_array(a) || json_array_size(a) > HTTPA_EAT_MAX_ADVISORIES)
        return eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_advisory_ids must be an array");
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= HTTPA_ADVISORY_ID_MAX)
            return eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_advisory_ids[%zu]", i);
        memcpy(out->advisory_ids[i], json_string_value(v), json_string_length(v) + 1);
    }
    out->nadvisories = json_array_size(a);
    return HTTPA_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    n = n < cap ? n : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Every claim present with its exact type (7.7 rule 1). */
static httpa_err parse_claims(json_t *c, httpa_eat_claims *out, httpa_eat_diag *d)
{
    const char *iss = NULL, *prof = NULL, *tee = NULL, *tcb = NULL;
    json_t *ci = json_object_get(c, "httpa2_collateral_issued");
    memset(out, 0, sizeof(*out));
    httpa_err e = claim_str(c, "iss", HTTPA_EAT_ISS_MAX, &iss, d);
    if (e == HTTPA_OK)
        e = claim_int(c, "iat", &out->iat, d);
    if (e == HTTPA_OK)
        e = claim_int(c, "exp", &out->exp, d);
    if (e == HTTPA_OK)
        e = claim_str(c, "eat_profile", 64, &prof, d);
    if (e == HTTPA_OK)
        e = claim_b64u(c, "eat_nonce", out->report_data, HTTPA_REPORT_DATA_LEN, d);
    if (e == HTTPA_OK)
        e = claim_str(c, "httpa2_tee", HTTPA_TEE_TOKEN_MAX, &tee, d);
    if (e == HTTPA_OK)
        e = claim_b64u(c, "httpa2_evidence_sha256", out->evidence_sha256, 32, d);
    if (e == HTTPA_OK)
        e = parse_verdict(c, &out->verdict, d);
    if (e == HTTPA_OK)
        e = claim_str(c, "httpa2_tcb_status", sizeof(out->tcb_status), &tcb, d);
    if (e == HTTPA_OK)
        e = parse_measurements(c, tee, &out->m, d);
    if (e == HTTPA_OK)
        e = parse_advisories(c, out, d);
    if (e == HTTPA_OK && ci != NULL && (!json_is_integer(ci) || json_integer_value(ci) < 0))
        e = eat_fail(d, HTTPA_EAT_CLAIM_TYPE, "httpa2_collateral_issued");
    if (e != HTTPA_OK)
        return e;
    copy_str(out->iss, sizeof(out->iss), iss);
    copy_str(out->tee, sizeof(out->tee), tee);
    copy_str(out->tcb_status, sizeof(out->tcb_status), tcb);
    out->collateral_issued = ci != NULL ? (int64_t)json_integer_value(ci) : 0;
    return strcmp(prof, HTTPA_EAT_PROFILE) == 0
               ? HTTPA_OK
               : eat_fail(d, HTTPA_EAT_PROFILE_MISMATCH, "%.64s", prof);
}

/* Rules 2 and 3 (profile, TEE); the profile was checked by parse_claims. */
static httpa_err check_claims(const httpa_eat_claims *c, const char *tee, int64_t now,
                              httpa_eat_diag *d)
{
    if (c->iat > now && c->iat - now > HTTPA_EAT_IAT_SKEW)
        return eat_fail(d, HTTPA_EAT_ISSUED_IN_FUTURE, "iat %lld, now %lld", (long long)c->iat,
                        (long long)now);
    if (!(now < c->exp))
        return eat_fail(d, HTTPA_EAT_EXPIRED, "exp %lld, now %lld", (long long)c->exp,
                        (long long)now);
    if (strcmp(c->tee, tee) != 0)
        return eat_fail(d, HTTPA_EAT_TEE_MISMATCH, "token for %s, entry %.16s", c->tee, tee);
    return HTTPA_OK;
}

/* After the header: key, claims JSON, signature, claims. */
static httpa_err verify_body(const httpa_eat_key *k, const char *tee, httpa_span token,
                             const jws_parts *p, int64_t now, httpa_eat_claims *out,
                             httpa_eat_diag *d)
{
    json_t *claims = NULL;
    httpa_err e = load_object(p->part[1], p->len[1], HTTPA_EAT_CLAIMS_MALFORMED, &claims, d);
    if (e == HTTPA_OK)
        e = check_signature(k, token, d);
    if (e == HTTPA_OK)
        e = parse_claims(claims, out, d);
    if (e == HTTPA_OK)
        e = check_claims(out, tee, now, d);
    json_decref(claims);
    return e;
}

httpa_err httpa_eat_verify_token(const httpa_eat_keyset *keys, const char *tee,
                                 httpa_span token, int64_t now, httpa_eat_claims *out,
                                 httpa_eat_diag *diag)
{
    jws_parts p;
    json_t *h = NULL;
    const char *kid = NULL;
    httpa_eat_claims local;
    httpa_eat_claims *c = out != NULL ? out : &local;
    if (diag != NULL)
        *diag = (httpa_eat_diag){.reason = HTTPA_EAT_OK};
    if (keys == NULL || tee == NULL || (token.base == NULL && token.len != 0))
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = split(token, &p, diag);
    if (e == HTTPA_OK)
        e = load_object(p.part[0], p.len[0], HTTPA_EAT_HEADER_MALFORMED, &h, diag);
    if (e == HTTPA_OK)
        e = check_header(h, &kid, diag);
    const httpa_eat_key *k = e == HTTPA_OK ? httpa_eat_keyset_find(keys, kid, strlen(kid)) : NULL;
    if (e == HTTPA_OK && k == NULL) {
        (void)eat_fail(diag, HTTPA_EAT_UNKNOWN_KID, "kid %.63s", kid);
        e = HTTPA_ERR_UNSUPPORTED;
    }
    if (e == HTTPA_OK)
        e = verify_body(k, tee, token, &p, now, c, diag);
    json_decref(h);
    if (e != HTTPA_OK && e != HTTPA_ERR_BAD_QUOTE && e != HTTPA_ERR_UNSUPPORTED && diag != NULL)
        diag->reason = HTTPA_EAT_INTERNAL;
    return e;
}

httpa_err httpa_eat_check_evidence(const httpa_eat_claims *c, httpa_span raw)
{
    uint8_t h[32];
    if (c == NULL || httpa_hash(HTTPA_SHA256, raw, h) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    return httpa_ct_equal(h, c->evidence_sha256, 32) ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
}

httpa_err httpa_eat_peek_evidence_sha256(httpa_span token, uint8_t out[32])
{
    jws_parts p;
    json_t *c = NULL;
    httpa_eat_diag d;
    httpa_err e = split(token, &p, &d);
    if (e == HTTPA_OK)
        e = load_object(p.part[1], p.len[1], HTTPA_EAT_CLAIMS_MALFORMED, &c, &d);
    if (e == HTTPA_OK)
        e = claim_b64u(c, "httpa2_evidence_sha256", out, 32, &d);
    json_decref(c);
    return e == HTTPA_OK ? e : HTTPA_ERR_BAD_QUOTE;
}

/* ---- policy and the engine's verifier ---- */

bool httpa_eat_policy_claims(const httpa_eat_claims *c, httpa_claims *out)
{
    memset(out, 0, sizeof(*out));
    out->debug = c->m.debug;
    out->tcb_status = c->tcb_status;
    out->advisory_ids = (const char(*)[HTTPA_ADVISORY_ID_MAX])c->advisory_ids;
    out->nadvisory_ids = c->nadvisories;
    out->collateral_issued = c->collateral_issued != 0 ? c->collateral_issued : c->iat;
    if (strcmp(c->tee, "sgx") == 0) {
        out->tee = HTTPA_POLICY_SGX;
        memcpy(out->sgx.mrenclave, c->m.sgx.mrenclave, 32);
        memcpy(out->sgx.mrsigner, c->m.sgx.mrsigner, 32);
        out->sgx.isvprodid = c->m.sgx.isvprodid;
        out->sgx.isvsvn = c->m.sgx.isvsvn;
    } else if (strcmp(c->tee, "tdx") == 0) {
        out->tee = HTTPA_POLICY_TDX;
        memcpy(out->tdx.mrtd, c->m.tdx.mrtd, 48);
        memcpy(out->tdx.rtmr, c->m.tdx.rtmr, sizeof(out->tdx.rtmr));
    } else if (strcmp(c->tee, "sim") == 0) {
        out->tee = HTTPA_POLICY_SIM;
        out->simulated = true;
        memcpy(out->sim.measurement, c->m.sim.measurement, 32);
        out->sim.svn = c->m.sim.svn;
    } else {
        return false;
    }
    return true;
}

void httpa_eat_appraisal(const httpa_eat_claims *c, httpa_appraisal *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->report_data, c->report_data, HTTPA_REPORT_DATA_LEN);
    out->simulated = strcmp(c->tee, "sim") == 0;
    out->debug = c->m.debug;
    copy_str(out->tcb_status, sizeof(out->tcb_status), c->tcb_status);
    const uint8_t *m = strcmp(c->tee, "sgx") == 0   ? c->m.sgx.mrenclave
                       : strcmp(c->tee, "tdx") == 0 ? c->m.tdx.mrtd
                       : out->simulated             ? c->m.sim.measurement
                                                    : NULL;
    out->measurement_len = m == NULL ? 0 : strcmp(c->tee, "tdx") == 0 ? 48 : 32;
    if (m != NULL)
        memcpy(out->measurement, m, out->measurement_len);
}

static httpa_err judge(const httpa_eat_verifier *v, const httpa_eat_claims *c, int64_t now,
                       httpa_eat_diag *d)
{
    httpa_claims pc;
    httpa_policy_verdict pv;
    if (c->verdict == HTTPA_EAT_VERDICT_CONTRAINDICATED)
        return eat_fail(d, HTTPA_EAT_CONTRAINDICATED, "issued by %.100s", c->iss);
    if (c->verdict == HTTPA_EAT_VERDICT_WARNING && !v->allow_warning) {
        (void)eat_fail(d, HTTPA_EAT_WARNING_NOT_ALLOWED, "TCB status %s", c->tcb_status);
        return HTTPA_ERR_POLICY_VIOLATION;
    }
    if (!httpa_eat_policy_claims(c, &pc)) {
        (void)eat_fail(d, HTTPA_EAT_POLICY, "the policy engine has no section for %s", c->tee);
        return HTTPA_ERR_POLICY_VIOLATION;
    }
    httpa_err e = httpa_policy_evaluate(v->policy, &pc, now, &pv);
    if (e != HTTPA_OK)
        (void)eat_fail(d, HTTPA_EAT_POLICY, "%s: %s", httpa_policy_reason_name(pv.reason),
                       pv.detail);
    return e;
}

httpa_err httpa_eat_verifier_check(const httpa_eat_verifier *v, const char *tee,
                                   const char *format, httpa_span token, int64_t now,
                                   httpa_appraisal *out, httpa_eat_claims *claims,
                                   httpa_eat_diag *diag)
{
    httpa_eat_claims local;
    httpa_eat_diag dlocal;
    httpa_eat_claims *c = claims != NULL ? claims : &local;
    httpa_eat_diag *d = diag != NULL ? diag : &dlocal;
    *d = (httpa_eat_diag){.reason = HTTPA_EAT_OK};
    if (v == NULL || tee == NULL || format == NULL || strcmp(format, "eat") != 0)
        return HTTPA_ERR_UNSUPPORTED;
    httpa_err e = httpa_eat_verify_token(v->keys, tee, token, now, c, d);
    if (e == HTTPA_OK)
        e = judge(v, c, now, d);
    if (e == HTTPA_OK && out != NULL)
        httpa_eat_appraisal(c, out);
    if (e != HTTPA_OK && e != HTTPA_ERR_UNSUPPORTED && v->on_reject != NULL)
        v->on_reject(v->on_reject_arg, tee, e, httpa_eat_reason_name(d->reason), d->detail);
    return e;
}

static httpa_err appraise_cb(httpa_verifier *self, const char *tee, const char *format,
                             httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    return httpa_eat_verifier_check((const httpa_eat_verifier *)self, tee, format, evidence,
                                    now, out, NULL, NULL);
}

void httpa_eat_verifier_init(httpa_eat_verifier *v, const httpa_eat_keyset *keys,
                             const httpa_policy *policy)
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = appraise_cb;
    v->keys = keys;
    v->policy = policy;
}
