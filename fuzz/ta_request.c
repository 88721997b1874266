/* Target: httpa_ta_parse_appraise, httpa_ta_handle (POST /v1/appraise),
 * httpa_eat_verify_token */
/* The Trusted Authority's request parser and its whole appraisal path with
 * simulated evidence allowed (the seed corpus holds requests with evidence
 * signed by the key below, so mutations reach the signature, the policy and
 * the signing), and the stapled-result verifier on the same octets.
 * Beyond "no crash": a parsed request has a NUL-terminated TEE token and
 * 1..64 KiB of evidence; every answer has a known status and a JSON body of
 * its content type; a 200 answer carries a token that verifies under the
 * TA's own key; the token verifier only answers OK, UNSUPPORTED or
 * BAD_QUOTE. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpa/eat.h"
#include "httpa/policy.h"
#include "httpa/ta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The profile's simulated attestation key (fixed_inputs of vectors.json). */
static const uint8_t SIM_PUB[32] = {
    0x4f, 0xd0, 0x99, 0xcc, 0xd4, 0x7d, 0x78, 0x93, 0xdf, 0xe9, 0xec, 0x24, 0x41, 0x4e, 0xcb, 0x0d,
    0x9b, 0x54, 0x20, 0x23, 0x2a, 0xad, 0x30, 0xd9, 0x1c, 0x46, 0x5b, 0xe3, 0x3c, 0xbe, 0x65, 0xc4,
};
/* The private scalar of the profile's example Trusted Authority. */
static const uint8_t TA_PRIV[32] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
};
static const char POLICY[] = "{\"sim\":{\"min_svn\":1},\"allow_simulated\":true,\"allow_debug\":false}";

static void check_parse(const uint8_t *data, size_t size)
{
    httpa_ta_appraise_req q;
    char why[160];
    httpa_err e = httpa_ta_parse_appraise((const char *)data, size, &q, why, sizeof(why));
    if (e == HTTPA_OK) {
        if (q.tee[0] == '\0' || memchr(q.tee, '\0', sizeof(q.tee)) == NULL ||
            q.evidence.len == 0 || q.evidence.len > HTTPA_TA_EVIDENCE_MAX)
            abort();
        httpa_ta_appraise_req_free(&q);
    } else if (e != HTTPA_ERR_BAD_REQUEST && e != HTTPA_ERR_TOO_LARGE) {
        abort();
    }
}

static void check_answer(const httpa_ta_response *r, const httpa_eat_keyset *ks)
{
    static const int known[] = {200, 400, 413, 422, 429, 500, 503};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok = ok || r->status == known[i];
    json_t *o = json_loadb((const char *)r->body.base, r->body.len, 0, NULL);
    if (!ok || !json_is_object(o))
        abort();
    json_t *tok = json_object_get(o, "token");
    if (r->status == 200 &&
        (!json_is_string(tok) ||
         httpa_eat_verify_token(ks, json_string_value(json_object_get(o, "tee")),
                                HTTPA_SPAN(json_string_value(tok), json_string_length(tok)),
                                1700000000, NULL, NULL) != HTTPA_OK))
        abort();
    json_decref(o);
}

static void check_handle(const uint8_t *data, size_t size)
{
    httpa_policy *p = NULL;
    httpa_ta *ta = NULL;
    httpa_eat_signer key;
    httpa_eat_keyset ks;
    httpa_ta_response r;
    if (httpa_policy_parse(POLICY, strlen(POLICY), &p, NULL, 0) != HTTPA_OK ||
        httpa_eat_signer_init(&key, TA_PRIV, "fuzz-ta") != HTTPA_OK)
        abort();
    httpa_eat_keyset_init(&ks);
    httpa_ta_config cfg = {.policy = p, .allow_sim = true, .key = &key};
    memcpy(cfg.sim_key, SIM_PUB, 32);
    if (httpa_eat_keyset_add(&ks, key.kid, key.pub) != HTTPA_OK ||
        httpa_ta_new(&cfg, 1700000000, &ta) != HTTPA_OK)
        abort();
    httpa_ta_request req = {.method = "POST", .method_len = 4, .path = "/v1/appraise",
                            .path_len = 12, .peer = "fuzz", .body = HTTPA_SPAN(data, size)};
    httpa_ta_response_init(&r);
    if (httpa_ta_handle(ta, &req, 1700000000, 1.0, &r) != HTTPA_OK)
        abort();
    check_answer(&r, &ks);
    httpa_ta_response_free(&r);
    httpa_ta_free(ta);
    httpa_policy_free(p);
    httpa_eat_signer_clear(&key);
}

static void check_token(const uint8_t *data, size_t size)
{
    httpa_eat_signer key;
    httpa_eat_keyset ks;
    httpa_eat_claims c;
    if (httpa_eat_signer_init(&key, TA_PRIV, "example-ta-1") != HTTPA_OK)
        abort();
    httpa_eat_keyset_init(&ks);
    if (httpa_eat_keyset_add(&ks, key.kid, key.pub) != HTTPA_OK)
        abort();
    httpa_err e = httpa_eat_verify_token(&ks, "sim", HTTPA_SPAN(data, size), 1700000000, &c, NULL);
    if (e != HTTPA_OK && e != HTTPA_ERR_UNSUPPORTED && e != HTTPA_ERR_BAD_QUOTE)
        abort();
    if (e == HTTPA_OK && strcmp(c.tee, "sim") != 0)
        abort();
    httpa_eat_signer_clear(&key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_handle(data, size);
    check_token(data, size);
    return 0;
}
