/* Stapled attestation results (profile 7.7): the vector's token, every
 * rejection rule, the issuer, keysets, and the engine comparing eat_nonce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpa/client.h"
#include "httpa/crypto.h"
#include "httpa/eat.h"
#include "httpa/server.h"
#include "testlib.h"

#define VEC_KID "example-ta-1"

static json_t *fixed(void)
{
    return tl_get(tl_vectors(), "fixed_inputs");
}

static json_t *stapled(void)
{
    return tl_get(tl_get(tl_vectors(), "aths_attested_key"), "stapled_eat");
}

static int64_t vec_now(void)
{
    return tl_int(fixed(), "now");
}

static void vec_keyset(httpa_eat_keyset *ks)
{
    httpa_buf pub = tl_hex_at(fixed(), "trusted_authority_es256_public_hex");
    assert_int_equal(pub.len, HTTPA_EAT_PUB_LEN);
    httpa_eat_keyset_init(ks);
    assert_int_equal(httpa_eat_keyset_add(ks, VEC_KID, pub.base), HTTPA_OK);
    httpa_buf_free(&pub);
}

static httpa_span vec_token(void)
{
    const char *t = tl_str(stapled(), "jwt");
    return HTTPA_SPAN(t, strlen(t));
}

static httpa_policy *sim_policy(const char *extra)
{
    char text[512];
    httpa_policy *p = NULL;
    char err[256] = "";
    snprintf(text, sizeof(text),
             "{\"sim\":{%s},\"allow_simulated\":true,\"sgx\":{},\"tdx\":{},"
             "\"accepted_tcb_status\":[\"UpToDate\"]}",
             extra);
    if (httpa_policy_parse(text, strlen(text), &p, err, sizeof(err)) != HTTPA_OK)
        fail_msg("policy: %s", err);
    return p;
}

/* ---- crafting tokens with the vector's authority key ---- */

static void b64u_append(httpa_buf *out, const char *s, size_t n)
{
    assert_int_equal(httpa_base64url_encode(HTTPA_SPAN(s, n), out), HTTPA_OK);
}

/* header.claims signed with the authority key (or `priv` hex). */
static char *craft_with(const char *header, const char *claims, const char *priv_hex)
{
    httpa_buf t, priv = tl_hex(priv_hex);
    uint8_t pub[65], sig[64];
    httpa_sign_key *k = NULL;
    httpa_buf_init(&t, 65536);
    b64u_append(&t, header, strlen(header));
    assert_int_equal(httpa_buf_append_u8(&t, '.'), HTTPA_OK);
    b64u_append(&t, claims, strlen(claims));
    assert_int_equal(httpa_sign_key_new(HTTPA_ECDSA_P256_SHA256, priv.base, 32, pub, &k), HTTPA_OK);
    assert_int_equal(httpa_sign(k, httpa_buf_span(&t), sig), HTTPA_OK);
    httpa_sign_key_free(k);
    assert_int_equal(httpa_buf_append_u8(&t, '.'), HTTPA_OK);
    assert_int_equal(httpa_base64url_encode(HTTPA_SPAN(sig, 64), &t), HTTPA_OK);
    char *s = strndup((const char *)t.base, t.len);
    httpa_buf_free(&t);
    httpa_buf_free(&priv);
    return s;
}

static char *craft(const char *header, const char *claims)
{
    return craft_with(header, claims, tl_str(fixed(), "trusted_authority_es256_private_hex"));
}

#define GOOD_HEADER "{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"typ\":\"JWT\"}"

/* The vector's claims, with one member replaced (value NULL: removed). */
static char *claims_with(const char *key, json_t *value)
{
    json_t *c = json_deep_copy(tl_get(stapled(), "claims"));
    if (key != NULL && value == NULL)
        json_object_del(c, key);
    else if (key != NULL)
        json_object_set_new(c, key, value);
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

static httpa_err verify(const char *tok, const char *tee, int64_t now, httpa_eat_reason want)
{
    httpa_eat_keyset ks;
    httpa_eat_claims c;
    httpa_eat_diag d;
    vec_keyset(&ks);
    httpa_err e = httpa_eat_verify_token(&ks, tee, HTTPA_SPAN(tok, strlen(tok)), now, &c, &d);
    if (d.reason != want)
        fail_msg("reason %s (%s), wanted %s", httpa_eat_reason_name(d.reason), d.detail,
                 httpa_eat_reason_name(want));
    return e;
}

static void expect_bad(const char *header, const char *claims, httpa_eat_reason want)
{
    char *t = craft(header, claims);
    assert_int_equal(verify(t, "sim", vec_now(), want), HTTPA_ERR_BAD_QUOTE);
    free(t);
}

/* ---- the vector ---- */

static void test_vector_accepted(void **state)
{
    (void)state;
    httpa_eat_keyset ks;
    httpa_eat_claims c;
    httpa_eat_diag d;
    vec_keyset(&ks);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", vec_token(), vec_now(), &c, &d), HTTPA_OK);
    json_t *want = tl_get(stapled(), "claims");
    assert_string_equal(c.iss, tl_str(want, "iss"));
    assert_int_equal(c.iat, tl_int(want, "iat"));
    assert_int_equal(c.exp, tl_int(want, "exp"));
    assert_string_equal(c.tee, "sim");
    assert_int_equal(c.verdict, HTTPA_EAT_VERDICT_AFFIRMING);
    assert_string_equal(c.tcb_status, "UpToDate");
    assert_int_equal(c.m.sim.svn, 3);
    assert_false(c.m.debug);
    httpa_buf m = tl_hex_at(fixed(), "server_measurement_hex");
    tl_assert_bytes(c.m.sim.measurement, 32, m.base, m.len);
    httpa_buf_free(&m);
    json_t *ak = tl_get(tl_get(tl_vectors(), "aths_attested_key"), "attested_key");
    httpa_buf rd = tl_hex_at(ak, "report_data_hex");
    tl_assert_bytes(c.report_data, 64, rd.base, rd.len);
    httpa_buf_free(&rd);
    /* rule 4 against the raw entry of the vector */
    httpa_buf raw = tl_hex_at(tl_get(tl_vectors(), "aths_attested_key"), "sim_quote_hex");
    assert_int_equal(httpa_eat_check_evidence(&c, httpa_buf_span(&raw)), HTTPA_OK);
    uint8_t peek[32];
    assert_int_equal(httpa_eat_peek_evidence_sha256(vec_token(), peek), HTTPA_OK);
    tl_assert_bytes(peek, 32, c.evidence_sha256, 32);
    raw.base[0] ^= 1;
    assert_int_equal(httpa_eat_check_evidence(&c, httpa_buf_span(&raw)), HTTPA_ERR_BAD_QUOTE);
    httpa_buf_free(&raw);
    /* the bounds of rule 2 */
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sim", c.iat - 60, HTTPA_EAT_OK), HTTPA_OK);
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sim", c.exp - 1, HTTPA_EAT_OK), HTTPA_OK);
}

static void test_vector_through_verifier(void **state)
{
    (void)state;
    httpa_eat_keyset ks;
    httpa_eat_verifier v;
    httpa_appraisal a;
    httpa_policy *p = sim_policy("\"min_svn\":3");
    vec_keyset(&ks);
    httpa_eat_verifier_init(&v, &ks, p);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", vec_token(), vec_now(), &a), HTTPA_OK);
    assert_true(a.simulated);
    assert_int_equal(a.measurement_len, 32);
    /* other formats are not the EAT verifier's */
    assert_int_equal(v.base.appraise(&v.base, "sim", "raw", vec_token(), vec_now(), &a),
                     HTTPA_ERR_UNSUPPORTED);
    httpa_policy_free(p);
    /* the policy decides about httpa2_claims */
    p = sim_policy("\"min_svn\":4");
    httpa_eat_verifier_init(&v, &ks, p);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", vec_token(), vec_now(), &a),
                     HTTPA_ERR_POLICY_VIOLATION);
    httpa_policy_free(p);
    p = sim_policy("\"measurement\":[\"" "00000000000000000000000000000000"
                   "00000000000000000000000000000000" "\"]");
    httpa_eat_verifier_init(&v, &ks, p);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", vec_token(), vec_now(), &a),
                     HTTPA_ERR_POLICY_VIOLATION);
    httpa_policy_free(p);
    /* no policy: fail closed */
    httpa_eat_verifier_init(&v, &ks, NULL);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", vec_token(), vec_now(), &a),
                     HTTPA_ERR_POLICY_VIOLATION);
}

/* ---- rejections ---- */

static void test_times(void **state)
{
    (void)state;
    int64_t iat = tl_int(tl_get(stapled(), "claims"), "iat");
    int64_t exp = tl_int(tl_get(stapled(), "claims"), "exp");
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sim", exp, HTTPA_EAT_EXPIRED),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sim", exp + 86400, HTTPA_EAT_EXPIRED),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sim", iat - 61, HTTPA_EAT_ISSUED_IN_FUTURE),
                     HTTPA_ERR_BAD_QUOTE);
}

static void test_unknown_kid_ignored(void **state)
{
    (void)state;
    char *c = claims_with(NULL, NULL);
    char *t = craft("{\"alg\":\"ES256\",\"kid\":\"other-ta\",\"typ\":\"JWT\"}", c);
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_UNKNOWN_KID), HTTPA_ERR_UNSUPPORTED);
    /* the engine's verifier answers UNSUPPORTED: the entry is ignored */
    httpa_eat_keyset ks;
    httpa_eat_verifier v;
    httpa_appraisal a;
    httpa_policy *p = sim_policy("");
    vec_keyset(&ks);
    httpa_eat_verifier_init(&v, &ks, p);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", HTTPA_SPAN(t, strlen(t)), vec_now(), &a),
                     HTTPA_ERR_UNSUPPORTED);
    /* and an empty keyset knows no kid at all */
    httpa_eat_keyset_init(&ks);
    assert_int_equal(v.base.appraise(&v.base, "sim", "eat", vec_token(), vec_now(), &a),
                     HTTPA_ERR_UNSUPPORTED);
    httpa_policy_free(p);
    free(t);
    free(c);
}

static void test_header_rules(void **state)
{
    (void)state;
    char *c = claims_with(NULL, NULL);
    expect_bad("{\"alg\":\"none\",\"kid\":\"" VEC_KID "\"}", c, HTTPA_EAT_ALG_NOT_ES256);
    expect_bad("{\"alg\":\"HS256\",\"kid\":\"" VEC_KID "\"}", c, HTTPA_EAT_ALG_NOT_ES256);
    expect_bad("{\"alg\":\"es256\",\"kid\":\"" VEC_KID "\"}", c, HTTPA_EAT_ALG_NOT_ES256);
    expect_bad("{\"alg\":\"ES384\",\"kid\":\"" VEC_KID "\"}", c, HTTPA_EAT_ALG_NOT_ES256);
    expect_bad("{\"kid\":\"" VEC_KID "\"}", c, HTTPA_EAT_ALG_NOT_ES256);
    expect_bad("{\"alg\":\"ES256\"}", c, HTTPA_EAT_KID_MISSING);
    expect_bad("{\"alg\":\"ES256\",\"kid\":7}", c, HTTPA_EAT_KID_MISSING);
    expect_bad("{\"alg\":\"ES256\",\"kid\":\"\"}", c, HTTPA_EAT_KID_MISSING);
    expect_bad("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"crit\":[\"exp\"]}", c, HTTPA_EAT_CRIT);
    expect_bad("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"typ\":1}", c,
               HTTPA_EAT_TYP_MALFORMED);
    expect_bad("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"alg\":\"ES256\"}", c,
               HTTPA_EAT_DUPLICATE_MEMBER);
    expect_bad("{\"alg\":\"ES256\",\"kid\":\"x\",\"kid\":\"" VEC_KID "\"}", c,
               HTTPA_EAT_DUPLICATE_MEMBER);
    expect_bad("[\"ES256\"]", c, HTTPA_EAT_HEADER_MALFORMED);
    expect_bad("{\"alg\":\"ES256\",", c, HTTPA_EAT_HEADER_MALFORMED);
    /* key-carrying parameters are ignored: never a key from the message */
    char *t = craft("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"jku\":\"https://evil.example/k\","
                    "\"x5u\":\"https://evil.example/c\",\"x5c\":[\"AAAA\"]}", c);
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_OK), HTTPA_OK);
    free(t);
    /* typ is optional, and only SHOULD be JWT */
    t = craft("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\"}", c);
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_OK), HTTPA_OK);
    free(t);
    t = craft("{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"typ\":\"eat+jwt\"}", c);
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_OK), HTTPA_OK);
    free(t);
    free(c);
}

/* A token signed by an attacker whose own key is in the header (jwk). */
static void test_embedded_key_ignored(void **state)
{
    (void)state;
    httpa_eat_signer evil;
    httpa_buf jwk;
    char header[1024];
    assert_int_equal(httpa_eat_signer_init(&evil, NULL, NULL), HTTPA_OK);
    httpa_buf_init(&jwk, 4096);
    assert_int_equal(httpa_eat_jwk_append(evil.kid, evil.pub, &jwk), HTTPA_OK);
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"" VEC_KID "\",\"jwk\":%.*s}",
             (int)jwk.len, (const char *)jwk.base);
    char priv_hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(priv_hex + 2 * i, 3, "%02x", evil.priv[i]);
    char *c = claims_with(NULL, NULL);
    char *t = craft_with(header, c, priv_hex);
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_SIGNATURE_INVALID), HTTPA_ERR_BAD_QUOTE);
    httpa_wipe(priv_hex, sizeof(priv_hex));
    httpa_eat_signer_clear(&evil);
    httpa_buf_free(&jwk);
    free(t);
    free(c);
}

static void expect_claim(const char *key, json_t *value, httpa_eat_reason want)
{
    char *c = claims_with(key, value);
    expect_bad(GOOD_HEADER, c, want);
    free(c);
}

static void test_claim_types(void **state)
{
    (void)state;
    static const char *const required[] = {"iss", "iat", "exp", "eat_profile", "eat_nonce",
                                           "httpa2_tee", "httpa2_evidence_sha256",
                                           "httpa2_verdict", "httpa2_tcb_status", "httpa2_claims"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        expect_claim(required[i], NULL, HTTPA_EAT_CLAIM_MISSING);
    expect_claim("iss", json_integer(1), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("iat", json_string("1699996460"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("iat", json_real(1699996460.0), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("exp", json_true(), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("eat_nonce", json_string("AAAA"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("eat_nonce", json_integer(0), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_evidence_sha256", json_string("wlY_EM-Sa4rzXOqT8xdyyqTXGvL3mZSQloEa1hzEOt8="),
                 HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_verdict", json_string("fine"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_tcb_status", json_null(), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_claims", json_string("{}"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_claims", json_pack("{s:s,s:b}", "measurement",
                 "ebadf87da82cf7ba83dfa9e8bee620d231702ba8cfbbcdf45295f69ebe67ff86", "debug", 0),
                 HTTPA_EAT_CLAIM_MISSING);
    expect_claim("httpa2_claims", json_pack("{s:s,s:s,s:b}", "measurement",
                 "ebadf87da82cf7ba83dfa9e8bee620d231702ba8cfbbcdf45295f69ebe67ff86", "svn", "3",
                 "debug", 0), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_claims", json_pack("{s:s,s:i,s:i}", "measurement",
                 "ebadf87da82cf7ba83dfa9e8bee620d231702ba8cfbbcdf45295f69ebe67ff86", "svn", 3,
                 "debug", 0), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_claims", json_pack("{s:s,s:i,s:b}", "measurement", "ebadf8", "svn", 3,
                 "debug", 0), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_advisory_ids", json_string("INTEL-SA-00615"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("httpa2_collateral_issued", json_string("0"), HTTPA_EAT_CLAIM_TYPE);
    expect_claim("eat_profile", json_string("urn:httpa2:eat-profile:2"), HTTPA_EAT_PROFILE_MISMATCH);
    /* a duplicate claim: edit the text, the JSON library would merge it */
    char *c = claims_with(NULL, NULL);
    char dup[4096];
    snprintf(dup, sizeof(dup), "{\"exp\":4102444800,%s", c + 1);
    expect_bad(GOOD_HEADER, dup, HTTPA_EAT_DUPLICATE_MEMBER);
    expect_bad(GOOD_HEADER, "[1,2]", HTTPA_EAT_CLAIMS_MALFORMED);
    free(c);
}

static void test_tee_mismatch(void **state)
{
    (void)state;
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "sgx", vec_now(), HTTPA_EAT_TEE_MISMATCH),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify(tl_str(stapled(), "jwt"), "tdx", vec_now(), HTTPA_EAT_TEE_MISMATCH),
                     HTTPA_ERR_BAD_QUOTE);
}

static void test_tampered(void **state)
{
    (void)state;
    const char *jwt = tl_str(stapled(), "jwt");
    size_t n = strlen(jwt);
    const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    char *t = strdup(jwt);
    /* a payload character: the claims still parse, the signature fails */
    size_t at = (size_t)(dot1 - jwt) + 20;
    t[at] = t[at] == 'A' ? 'B' : 'A';
    httpa_eat_keyset ks;
    httpa_eat_diag d;
    vec_keyset(&ks);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", HTTPA_SPAN(t, n), vec_now(), NULL, &d),
                     HTTPA_ERR_BAD_QUOTE);
    memcpy(t, jwt, n);
    /* the signature */
    at = (size_t)(dot2 - jwt) + 10;
    t[at] = t[at] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_SIGNATURE_INVALID), HTTPA_ERR_BAD_QUOTE);
    memcpy(t, jwt, n);
    t[n - 1] = '\0'; /* a shorter signature */
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_SIGNATURE_INVALID), HTTPA_ERR_BAD_QUOTE);
    memcpy(t, jwt, n);
    t[(size_t)(dot2 - jwt)] = '\0'; /* no signature */
    assert_int_equal(verify(t, "sim", vec_now(), HTTPA_EAT_MALFORMED), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify("a.b.c.d", "sim", vec_now(), HTTPA_EAT_MALFORMED), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify("a b.c.d", "sim", vec_now(), HTTPA_EAT_MALFORMED), HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(verify("", "sim", vec_now(), HTTPA_EAT_MALFORMED), HTTPA_ERR_BAD_QUOTE);
    free(t);
}

static void test_verdicts(void **state)
{
    (void)state;
    httpa_eat_keyset ks;
    httpa_eat_verifier v;
    httpa_appraisal a;
    httpa_eat_diag d;
    httpa_policy *p = sim_policy("");
    vec_keyset(&ks);
    httpa_eat_verifier_init(&v, &ks, p);
    char *c = claims_with("httpa2_verdict", json_string("warning"));
    char *t = craft(GOOD_HEADER, c);
    httpa_span ts = HTTPA_SPAN(t, strlen(t));
    assert_int_equal(httpa_eat_verifier_check(&v, "sim", "eat", ts, vec_now(), &a, NULL, &d),
                     HTTPA_ERR_POLICY_VIOLATION);
    assert_int_equal(d.reason, HTTPA_EAT_WARNING_NOT_ALLOWED);
    v.allow_warning = true;
    assert_int_equal(httpa_eat_verifier_check(&v, "sim", "eat", ts, vec_now(), &a, NULL, &d),
                     HTTPA_OK);
    free(t);
    free(c);
    c = claims_with("httpa2_verdict", json_string("contraindicated"));
    t = craft(GOOD_HEADER, c);
    ts = HTTPA_SPAN(t, strlen(t));
    assert_int_equal(httpa_eat_verifier_check(&v, "sim", "eat", ts, vec_now(), &a, NULL, &d),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(d.reason, HTTPA_EAT_CONTRAINDICATED);
    free(t);
    free(c);
    httpa_policy_free(p);
}

/* ---- issuing ---- */

static void vec_claims(httpa_eat_claims *c)
{
    json_t *w = tl_get(stapled(), "claims");
    json_t *ak = tl_get(tl_get(tl_vectors(), "aths_attested_key"), "attested_key");
    httpa_buf rd = tl_hex_at(ak, "report_data_hex");
    httpa_buf raw = tl_hex_at(tl_get(tl_vectors(), "aths_attested_key"), "sim_quote_hex");
    httpa_buf m = tl_hex_at(fixed(), "server_measurement_hex");
    memset(c, 0, sizeof(*c));
    snprintf(c->iss, sizeof(c->iss), "%s", tl_str(w, "iss"));
    c->iat = tl_int(w, "iat");
    c->exp = tl_int(w, "exp");
    snprintf(c->tee, sizeof(c->tee), "sim");
    memcpy(c->report_data, rd.base, 64);
    assert_int_equal(httpa_hash(HTTPA_SHA256, httpa_buf_span(&raw), c->evidence_sha256), HTTPA_OK);
    c->verdict = HTTPA_EAT_VERDICT_AFFIRMING;
    snprintf(c->tcb_status, sizeof(c->tcb_status), "UpToDate");
    memcpy(c->m.sim.measurement, m.base, 32);
    c->m.sim.svn = 3;
    httpa_buf_free(&rd);
    httpa_buf_free(&raw);
    httpa_buf_free(&m);
}

/* The segment `i` of a compact JWS, decoded and parsed. */
static json_t *segment(httpa_span tok, int i)
{
    const char *p = (const char *)tok.base, *end = p + tok.len;
    for (int k = 0; k < i; k++)
        p = memchr(p, '.', (size_t)(end - p)) + 1;
    const char *q = memchr(p, '.', (size_t)(end - p));
    httpa_buf b;
    httpa_buf_init(&b, 65536);
    assert_int_equal(httpa_base64url_decode(p, q != NULL ? (size_t)(q - p) : (size_t)(end - p), &b),
                     HTTPA_OK);
    json_t *o = json_loadb((const char *)b.base, b.len, JSON_REJECT_DUPLICATES, NULL);
    httpa_buf_free(&b);
    assert_non_null(o);
    return o;
}

static void test_issue_vector_shape(void **state)
{
    (void)state;
    httpa_buf priv = tl_hex_at(fixed(), "trusted_authority_es256_private_hex");
    httpa_buf pub = tl_hex_at(fixed(), "trusted_authority_es256_public_hex");
    httpa_eat_signer s;
    httpa_eat_claims c, got;
    httpa_buf tok;
    assert_int_equal(httpa_eat_signer_init(&s, priv.base, VEC_KID), HTTPA_OK);
    tl_assert_bytes(s.pub, 65, pub.base, pub.len);
    vec_claims(&c);
    httpa_buf_init(&tok, HTTPA_EAT_TOKEN_MAX);
    assert_int_equal(httpa_eat_issue(&s, &c, &tok), HTTPA_OK);
    /* the header of the vector, byte for byte */
    const char *vj = tl_str(stapled(), "jwt");
    size_t hl = (size_t)(strchr(vj, '.') - vj);
    tl_assert_bytes(tok.base, hl + 1, vj, hl + 1);
    /* the vector's claims, plus an (empty) httpa2_advisory_ids */
    json_t *claims = segment(httpa_buf_span(&tok), 1);
    json_t *want = json_deep_copy(tl_get(stapled(), "claims"));
    json_object_set_new(want, "httpa2_advisory_ids", json_array());
    assert_true(json_equal(claims, want));
    json_decref(claims);
    json_decref(want);
    /* and it verifies */
    httpa_eat_keyset ks;
    vec_keyset(&ks);
    assert_int_equal(httpa_eat_verify_token(&ks, "sim", httpa_buf_span(&tok), vec_now(), &got, NULL),
                     HTTPA_OK);
    assert_int_equal(memcmp(got.report_data, c.report_data, 64), 0);
    assert_int_equal(got.nadvisories, 0);
    httpa_eat_signer_clear(&s);
    httpa_buf_free(&tok);
    httpa_buf_free(&priv);
    httpa_buf_free(&pub);
}

static void test_issue_sgx_tdx(void **state)
{
    (void)state;
    httpa_eat_signer s;
    httpa_eat_claims c, got;
    httpa_eat_keyset ks;
    httpa_buf tok;
    assert_int_equal(httpa_eat_signer_init(&s, NULL, NULL), HTTPA_OK);
    assert_int_equal(strlen(s.kid), HTTPA_EAT_THUMBPRINT_LEN);
    httpa_eat_keyset_init(&ks);
    assert_int_equal(httpa_eat_keyset_add(&ks, s.kid, s.pub), HTTPA_OK);
    vec_claims(&c);
    snprintf(c.tee, sizeof(c.tee), "sgx");
    memset(c.m.sgx.mrenclave, 0x33, 32);
    memset(c.m.sgx.mrsigner, 0x81, 32);
    c.m.sgx.isvsvn = 7;
    c.m.sgx.isvprodid = 65535;
    c.m.debug = true;
    c.verdict = HTTPA_EAT_VERDICT_WARNING;
    snprintf(c.tcb_status, sizeof(c.tcb_status), "SWHardeningNeeded");
    c.nadvisories = 2;
    snprintf(c.advisory_ids[0], HTTPA_ADVISORY_ID_MAX, "INTEL-SA-00289");
    snprintf(c.advisory_ids[1], HTTPA_ADVISORY_ID_MAX, "INTEL-SA-00615");
    c.collateral_issued = 1699990000;
    httpa_buf_init(&tok, HTTPA_EAT_TOKEN_MAX);
    assert_int_equal(httpa_eat_issue(&s, &c, &tok), HTTPA_OK);
    assert_int_equal(httpa_eat_verify_token(&ks, "sgx", httpa_buf_span(&tok), vec_now(), &got, NULL),
                     HTTPA_OK);
    assert_int_equal(got.m.sgx.isvsvn, 7);
    assert_int_equal(got.m.sgx.isvprodid, 65535);
    assert_true(got.m.debug);
    assert_int_equal(got.verdict, HTTPA_EAT_VERDICT_WARNING);
    assert_int_equal(got.nadvisories, 2);
    assert_string_equal(got.advisory_ids[1], "INTEL-SA-00615");
    assert_int_equal(got.collateral_issued, 1699990000);
    assert_int_equal(memcmp(got.m.sgx.mrsigner, c.m.sgx.mrsigner, 32), 0);
    httpa_buf_reset(&tok);
    snprintf(c.tee, sizeof(c.tee), "tdx");
    memset(c.m.tdx.rtmr[3], 0x44, 48);
    memset(c.m.tdx.mrownerconfig, 0x55, 48);
    assert_int_equal(httpa_eat_issue(&s, &c, &tok), HTTPA_OK);
    assert_int_equal(httpa_eat_verify_token(&ks, "tdx", httpa_buf_span(&tok), vec_now(), &got, NULL),
                     HTTPA_OK);
    assert_int_equal(memcmp(got.m.tdx.rtmr[3], c.m.tdx.rtmr[3], 48), 0);
    assert_int_equal(memcmp(got.m.tdx.mrownerconfig, c.m.tdx.mrownerconfig, 48), 0);
    httpa_buf_reset(&tok);
    snprintf(c.tee, sizeof(c.tee), "sev_snp"); /* no measurement struct: refused */
    assert_int_equal(httpa_eat_issue(&s, &c, &tok), HTTPA_ERR_INVALID_ARG);
    httpa_eat_signer_clear(&s);
    httpa_buf_free(&tok);
}

/* ---- keys ---- */

static void test_keysets(void **state)
{
    (void)state;
    httpa_eat_keyset ks;
    char err[256] = "";
    httpa_buf pub = tl_hex_at(fixed(), "trusted_authority_es256_public_hex");
    httpa_buf jwks;
    httpa_buf_init(&jwks, 8192);
    assert_int_equal(httpa_buf_append_str(&jwks, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"},"),
                     HTTPA_OK);
    assert_int_equal(httpa_eat_jwk_append(VEC_KID, pub.base, &jwks), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(&jwks, "]}"), HTTPA_OK);
    httpa_eat_keyset_init(&ks);
    assert_int_equal(httpa_eat_keyset_parse_jwks(&ks, (const char *)jwks.base, jwks.len, err,
                                                 sizeof(err)),
                     HTTPA_OK);
    assert_int_equal(ks.n, 1);
    assert_non_null(httpa_eat_keyset_find(&ks, VEC_KID, strlen(VEC_KID)));
    assert_int_equal(memcmp(ks.keys[0].pub, pub.base, 65), 0);
    /* the same kid twice, a private key, nothing usable, bad JSON */
    assert_int_equal(httpa_eat_keyset_parse_jwks(&ks, (const char *)jwks.base, jwks.len, err,
                                                 sizeof(err)),
                     HTTPA_ERR_INVALID_ARG);
    static const char *const bad[] = {
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"k\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":\"AA\",\"y\":\"AA\"}]}",
        "{\"keys\":{}}", "[]", "{\"keys\":[],\"keys\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        httpa_eat_keyset_init(&ks);
        err[0] = '\0';
        assert_int_equal(httpa_eat_keyset_parse_jwks(&ks, bad[i], strlen(bad[i]), err, sizeof(err)),
                         HTTPA_ERR_INVALID_ARG);
        assert_true(err[0] != '\0');
    }
    /* a point off the curve */
    pub.base[64] ^= 1;
    httpa_eat_keyset_init(&ks);
    assert_int_equal(httpa_eat_keyset_add(&ks, "k", pub.base), HTTPA_ERR_INVALID_ARG);
    httpa_buf_free(&pub);
    httpa_buf_free(&jwks);
}

static void test_pem_keys(void **state)
{
    (void)state;
    httpa_eat_signer s, back;
    httpa_eat_keyset ks;
    char err[256] = "";
    char tp[HTTPA_EAT_THUMBPRINT_LEN + 1];
    assert_int_equal(httpa_eat_signer_init(&s, NULL, NULL), HTTPA_OK);
    /* the private PEM reads back to the same key and kid */
    assert_int_equal(httpa_eat_signer_load_pem(&back, s.pem, strlen(s.pem), NULL, err, sizeof(err)),
                     HTTPA_OK);
    assert_int_equal(memcmp(back.priv, s.priv, 32), 0);
    assert_string_equal(back.kid, s.kid);
    assert_int_equal(httpa_eat_thumbprint(s.pub, tp), HTTPA_OK);
    assert_string_equal(tp, s.kid);
    /* the public PEM the keyset builds is readable as a key file */
    httpa_eat_keyset_init(&ks);
    assert_int_equal(httpa_eat_keyset_add(&ks, "a", s.pub), HTTPA_OK);
    httpa_eat_keyset ks2;
    httpa_eat_keyset_init(&ks2);
    assert_int_equal(httpa_eat_keyset_parse_pem(&ks2, ks.keys[0].pem, strlen(ks.keys[0].pem), NULL,
                                                err, sizeof(err)),
                     HTTPA_OK);
    assert_string_equal(ks2.keys[0].kid, s.kid);
    assert_int_equal(httpa_eat_keyset_parse_pem(&ks2, "junk", 4, "b", err, sizeof(err)),
                     HTTPA_ERR_INVALID_ARG);
    /* a private PEM is not a verification key */
    assert_int_equal(httpa_eat_keyset_parse_pem(&ks2, s.pem, strlen(s.pem), "c", err, sizeof(err)),
                     HTTPA_ERR_INVALID_ARG);
    /* RFC 7638 section 3.1 style: a known thumbprint of the vector key */
    httpa_buf pub = tl_hex_at(fixed(), "trusted_authority_es256_public_hex");
    assert_int_equal(httpa_eat_thumbprint(pub.base, tp), HTTPA_OK);
    assert_int_equal(strlen(tp), 43);
    httpa_buf_free(&pub);
    httpa_eat_signer_clear(&s);
    httpa_eat_signer_clear(&back);
}

/* ---- through the engine: eat_nonce must bind the handshake ---- */

typedef struct hs_fixture {
    httpa_server *srv;
    httpa_eat_signer ta;
    httpa_eat_keyset ks;
    httpa_eat_verifier v;
    httpa_policy *policy;
    uint8_t pub[32];
    int64_t now, not_after;
} hs_fixture;

static char *issue_for(hs_fixture *f, const uint8_t rd[64])
{
    httpa_eat_claims c;
    httpa_buf tok;
    vec_claims(&c);
    c.iat = f->now;
    c.exp = f->now + 600;
    memcpy(c.report_data, rd, 64);
    httpa_buf_init(&tok, HTTPA_EAT_TOKEN_MAX);
    assert_int_equal(httpa_eat_issue(&f->ta, &c, &tok), HTTPA_OK);
    char *s = strndup((const char *)tok.base, tok.len);
    httpa_buf_free(&tok);
    return s;
}

static httpa_err handshake(hs_fixture *f, const char *token)
{
    httpa_sign_key *k = NULL;
    httpa_server_config scfg = {0};
    httpa_msg req, resp;
    httpa_buf body;
    httpa_client_hs *hs = NULL;
    httpa_client_base *b = NULL;
    assert_int_equal(httpa_server_new(&scfg, &f->srv), HTTPA_OK);
    assert_int_equal(httpa_sign_key_new(HTTPA_ED25519, NULL, 0, f->pub, &k), HTTPA_OK);
    httpa_key_evidence ev = {"sim", "eat", HTTPA_SPAN(token, strlen(token))};
    assert_int_equal(httpa_server_add_key(f->srv, HTTPA_ED25519, k, HTTPA_SPAN(f->pub, 32),
                                          f->not_after, &ev, 1),
                     HTTPA_OK);
    httpa_client_config ccfg = {.verifier = &f->v.base, .allow_sim = true};
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 1 << 20);
    assert_int_equal(httpa_client_hs_start(&ccfg, f->now, &req, &hs), HTTPA_OK);
    assert_int_equal(httpa_server_handshake(f->srv, &req, 0, f->now, &resp, &body), HTTPA_OK);
    httpa_err e = httpa_client_hs_finish(hs, &resp, httpa_buf_span(&body), f->now, &b);
    if (e == HTTPA_OK)
        assert_true(httpa_client_base_appraisal(b)->simulated);
    httpa_client_base_release(b);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_server_free(f->srv);
    return e;
}

static void test_engine_eat_nonce(void **state)
{
    (void)state;
    hs_fixture f;
    memset(&f, 0, sizeof(f));
    f.now = 1700000000;
    f.not_after = f.now + 86400;
    assert_int_equal(httpa_eat_signer_init(&f.ta, NULL, "test-ta"), HTTPA_OK);
    httpa_eat_keyset_init(&f.ks);
    assert_int_equal(httpa_eat_keyset_add(&f.ks, f.ta.kid, f.ta.pub), HTTPA_OK);
    f.policy = sim_policy("");
    httpa_eat_verifier_init(&f.v, &f.ks, f.policy);
    /* A stapled-only response whose valid token binds another key (its
     * eat_nonce is not this key's report_data): the engine says bad_quote. */
    uint8_t other[64];
    memset(other, 0x5a, sizeof(other));
    char *bad = issue_for(&f, other);
    assert_int_equal(handshake(&f, bad), HTTPA_ERR_BAD_QUOTE);
    free(bad);
    httpa_policy_free(f.policy);
    httpa_eat_signer_clear(&f.ta);
}

/* The positive case: the token's eat_nonce is the report_data of the
 * server's attested key. */
static void test_engine_eat_accepted(void **state)
{
    (void)state;
    httpa_eat_signer ta;
    httpa_eat_keyset ks;
    httpa_eat_verifier v;
    httpa_policy *p = sim_policy("");
    httpa_server *srv = NULL;
    httpa_server_config scfg = {0};
    httpa_sign_key *k = NULL;
    uint8_t pub[32], rd[64];
    int64_t now = 1700000000, not_after = now + 86400;
    assert_int_equal(httpa_eat_signer_init(&ta, NULL, NULL), HTTPA_OK);
    httpa_eat_keyset_init(&ks);
    assert_int_equal(httpa_eat_keyset_add(&ks, ta.kid, ta.pub), HTTPA_OK);
    httpa_eat_verifier_init(&v, &ks, p);
    assert_int_equal(httpa_sign_key_new(HTTPA_ED25519, NULL, 0, pub, &k), HTTPA_OK);
    assert_int_equal(httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32), not_after, rd),
                     HTTPA_OK);
    httpa_eat_claims c;
    httpa_buf tok;
    vec_claims(&c);
    c.iat = now;
    c.exp = now + 600;
    memcpy(c.report_data, rd, 64);
    httpa_buf_init(&tok, HTTPA_EAT_TOKEN_MAX);
    assert_int_equal(httpa_eat_issue(&ta, &c, &tok), HTTPA_OK);
    assert_int_equal(httpa_server_new(&scfg, &srv), HTTPA_OK);
    httpa_key_evidence ev = {"sim", "eat", httpa_buf_span(&tok)};
    assert_int_equal(httpa_server_add_key(srv, HTTPA_ED25519, k, HTTPA_SPAN(pub, 32), not_after, &ev, 1),
                     HTTPA_OK);
    httpa_client_config ccfg = {.verifier = &v.base, .allow_sim = true};
    httpa_msg req, resp;
    httpa_buf body;
    httpa_client_hs *hs = NULL;
    httpa_client_base *b = NULL;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 1 << 20);
    assert_int_equal(httpa_client_hs_start(&ccfg, now, &req, &hs), HTTPA_OK);
    assert_int_equal(httpa_server_handshake(srv, &req, 0, now, &resp, &body), HTTPA_OK);
    assert_int_equal(httpa_client_hs_finish(hs, &resp, httpa_buf_span(&body), now, &b), HTTPA_OK);
    assert_true(httpa_client_base_appraisal(b)->simulated);
    httpa_client_base_release(b);
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    httpa_buf_free(&tok);
    httpa_server_free(srv);
    httpa_policy_free(p);
    httpa_eat_signer_clear(&ta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_accepted),
        cmocka_unit_test(test_vector_through_verifier),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_unknown_kid_ignored),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_embedded_key_ignored),
        cmocka_unit_test(test_claim_types),
        cmocka_unit_test(test_tee_mismatch),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_issue_vector_shape),
        cmocka_unit_test(test_issue_sgx_tdx),
        cmocka_unit_test(test_keysets),
        cmocka_unit_test(test_pem_keys),
        cmocka_unit_test(test_engine_eat_nonce),
        cmocka_unit_test(test_engine_eat_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
