/* Issuing stapled results (profile 7.7): the claims set is built with
 * jansson in the profile's order, then signed by cjose (ES256, header
 * {"alg":"ES256","kid":..,"typ":"JWT"}). */
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>

#include "eat_int.h"

static json_t *member_json(const eat_member *m, const httpa_eat_measurements *v)
{
    const uint8_t *src = (const uint8_t *)v + m->offset;
    char hex[2 * 48 + 1];
    switch (m->kind) {
    case EAT_HEX:
        eat_hex(src, m->len, hex);
        return json_string(hex);
    case EAT_BOOL:
        return json_boolean(*(const bool *)src);
    case EAT_UINT:
        return json_integer(m->len == 2 ? *(const uint16_t *)src : *(const uint32_t *)src);
    }
    return NULL;
}

static json_t *measurements_json(const char *tee, const httpa_eat_measurements *v)
{
    size_t n = 0;
    const eat_member *schema = eat_schema(tee, &n);
    if (schema == NULL || (strcmp(tee, "sgx") != 0 && strcmp(tee, "tdx") != 0 &&
                           strcmp(tee, "sim") != 0))
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < n; i++) {
        if (json_object_set_new(o, schema[i].name, member_json(&schema[i], v)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static json_t *advisories_json(const httpa_eat_claims *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < c->nadvisories && i < HTTPA_EAT_MAX_ADVISORIES; i++) {
        if (json_array_append_new(a, json_string(c->advisory_ids[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static int set(json_t *o, const char *k, json_t *v)
{
    return v == NULL ? -1 : json_object_set_new(o, k, v);
}

static json_t *claims_json(const httpa_eat_claims *c)
{
    json_t *o = json_object();
    json_t *m = measurements_json(c->tee, &c->m);
    if (o == NULL || m == NULL ||
        set(o, "iss", json_string(c->iss)) != 0 ||
        set(o, "iat", json_integer(c->iat)) != 0 ||
        set(o, "exp", json_integer(c->exp)) != 0 ||
        set(o, "eat_profile", json_string(HTTPA_EAT_PROFILE)) != 0 ||
        set(o, "eat_nonce", eat_b64u_json(c->report_data, HTTPA_REPORT_DATA_LEN)) != 0 ||
        set(o, "httpa2_tee", json_string(c->tee)) != 0 ||
        set(o, "httpa2_evidence_sha256", eat_b64u_json(c->evidence_sha256, 32)) != 0 ||
        set(o, "httpa2_verdict", json_string(httpa_eat_verdict_name(c->verdict))) != 0 ||
        set(o, "httpa2_tcb_status", json_string(c->tcb_status)) != 0 ||
        json_object_set(o, "httpa2_claims", m) != 0 ||
        set(o, "httpa2_advisory_ids", advisories_json(c)) != 0 ||
        (c->collateral_issued != 0 &&
         set(o, "httpa2_collateral_issued", json_integer(c->collateral_issued)) != 0)) {
        json_decref(m);
        json_decref(o);
        return NULL;
    }
    json_decref(m); /* o holds it */
    return o;
}

/* cjose: header {"alg":"ES256","kid":..,"typ":"JWT"} in that order, the
 * claims text as the payload, ES256 with the signer's key. */
static cjose_jws_t *sign_jws(const httpa_eat_signer *s, const char *claims, cjose_err *err)
{
    cjose_jwk_ec_keyspec spec = {.crv = CJOSE_JWK_EC_P_256, .d = (uint8_t *)s->priv, .dlen = 32,
                                 .x = (uint8_t *)s->pub + 1, .xlen = 32,
                                 .y = (uint8_t *)s->pub + 33, .ylen = 32};
    cjose_jwk_t *jwk = cjose_jwk_create_EC_spec(&spec, err);
    cjose_header_t *h = jwk != NULL ? cjose_header_new(err) : NULL;
    cjose_jws_t *jws = NULL;
    if (h != NULL && cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, err) &&
        cjose_header_set(h, CJOSE_HDR_KID, s->kid, err) && cjose_header_set(h, "typ", "JWT", err))
        jws = cjose_jws_sign(jwk, h, (const uint8_t *)claims, strlen(claims), err);
    cjose_header_release(h);
    cjose_jwk_release(jwk); /* wipes its private key */
    return jws;
}

static httpa_err sign(const httpa_eat_signer *s, const char *claims, httpa_buf *token)
{
    cjose_err err;
    const char *out = NULL;
    memset(&err, 0, sizeof(err));
    cjose_jws_t *jws = sign_jws(s, claims, &err);
    bool ok = jws != NULL && cjose_jws_export(jws, &out, &err);
    httpa_err e = !ok ? (err.code == CJOSE_ERR_NO_MEMORY ? HTTPA_ERR_NOMEM : HTTPA_ERR_LIBRARY)
                      : httpa_buf_append_str(token, out);
    cjose_jws_release(jws);
    return e;
}

httpa_err httpa_eat_issue(const httpa_eat_signer *s, const httpa_eat_claims *c, httpa_buf *token)
{
    if (s == NULL || c == NULL || token == NULL || s->kid[0] == '\0' || !eat_tee_known(c->tee) ||
        c->nadvisories > HTTPA_EAT_MAX_ADVISORIES)
        return HTTPA_ERR_INVALID_ARG;
    json_t *o = claims_json(c);
    if (o == NULL)
        return strcmp(c->tee, "sgx") == 0 || strcmp(c->tee, "tdx") == 0 ||
                       strcmp(c->tee, "sim") == 0
                   ? HTTPA_ERR_NOMEM
                   : HTTPA_ERR_INVALID_ARG;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return HTTPA_ERR_NOMEM;
    httpa_err e = sign(s, text, token);
    free(text);
    return e;
}
