/* Key schedule, traffic keys and exporter against the profile vectors
 * (key_schedule, aths_attested_key, aths_fresh_mutual). */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "engine/suite.h"

typedef struct counter {
    int values;
} counter;

static void check_hex(counter *n, const uint8_t *got, size_t len, json_t *o, const char *key)
{
    httpa_buf want = tl_hex_at(o, key);
    tl_assert_bytes(got, len, want.base, want.len);
    httpa_buf_free(&want);
    n->values++;
}

static const httpa_suite *suite_of(json_t *o)
{
    const char *tok = tl_str(o, "suite");
    const httpa_suite *s = httpa_suite_find(tok, strlen(tok));
    assert_non_null(s);
    return s;
}

static void check_traffic(counter *n, const httpa_suite *s, const uint8_t *secret, json_t *t)
{
    httpa_traffic tr;
    assert_int_equal(httpa_traffic_init(&tr, s, secret), HTTPA_OK);
    assert_ptr_equal(tr.suite, s);
    assert_non_null(tr.aead);
    check_hex(n, tr.key, s->key_len, t, "key");
    check_hex(n, tr.iv, HTTPA_IV_LEN, t, "iv");
    check_hex(n, tr.mac_key, s->hlen, t, "mac_key");
    httpa_traffic_wipe(&tr);
    assert_null(tr.aead);
    static const uint8_t zero[sizeof(tr.key)];
    assert_memory_equal(tr.key, zero, sizeof(zero));
}

/* `ks` holds the secrets, `traffic` the expansions; shared and TH_hs come
 * from `inputs`. */
static void check_schedule(counter *n, const httpa_suite *s, json_t *inputs, json_t *ks,
                           json_t *traffic)
{
    httpa_buf shared = tl_hex_at(inputs, "ecdhe_shared_secret_hex");
    httpa_buf th = tl_hex_at(inputs, "th_hs_hex");
    assert_int_equal(shared.len, 32);
    assert_int_equal(th.len, s->hlen);

    httpa_schedule_all a;
    assert_int_equal(httpa_schedule_derive_all(&a, s, shared.base, th.base), HTTPA_OK);
    size_t h = s->hlen;
    check_hex(n, a.early_secret, h, ks, "early_secret");
    check_hex(n, a.derived_0, h, ks, "derived_0");
    check_hex(n, a.handshake_secret, h, ks, "handshake_secret");
    check_hex(n, a.c_hs, h, ks, "c_hs_traffic");
    check_hex(n, a.s_hs, h, ks, "s_hs_traffic");
    check_hex(n, a.derived_1, h, ks, "derived_1");
    check_hex(n, a.master_secret, h, ks, "master_secret");
    check_hex(n, a.c_ap, h, ks, "c_ap_traffic");
    check_hex(n, a.s_ap, h, ks, "s_ap_traffic");
    check_hex(n, a.exporter_master, h, ks, "exporter_master");

    httpa_schedule sch;
    assert_int_equal(httpa_schedule_derive(&sch, s, shared.base, th.base), HTTPA_OK);
    assert_ptr_equal(sch.suite, s);
    check_hex(n, sch.s_hs, h, ks, "s_hs_traffic");
    check_hex(n, sch.c_ap, h, ks, "c_ap_traffic");
    check_hex(n, sch.s_ap, h, ks, "s_ap_traffic");
    check_hex(n, sch.exporter_master, h, ks, "exporter_master");

    check_traffic(n, s, a.c_hs, tl_get(traffic, "c_hs"));
    check_traffic(n, s, sch.s_hs, tl_get(traffic, "s_hs"));
    check_traffic(n, s, sch.c_ap, tl_get(traffic, "c_ap"));
    check_traffic(n, s, sch.s_ap, tl_get(traffic, "s_ap"));

    httpa_schedule_wipe(&sch);
    assert_null(sch.suite);
    httpa_wipe(&a, sizeof(a));
    httpa_buf_free(&shared);
    httpa_buf_free(&th);
}

static void test_key_schedule_all_suites(void **state)
{
    (void)state;
    counter n = {0};
    json_t *list = tl_get(tl_vectors(), "key_schedule");
    assert_int_equal(json_array_size(list), 3);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const httpa_suite *s = suite_of(v);
        assert_int_equal(httpa_hash_len(s->hash), s->hlen);
        check_schedule(&n, s, v, v, tl_get(v, "traffic"));
    }
    printf("key_schedule: %d values checked over 3 suites\n", n.values);
}

static void test_aths_attested_key_schedule(void **state)
{
    (void)state;
    counter n = {0};
    json_t *v = tl_get(tl_vectors(), "aths_attested_key");
    check_schedule(&n, suite_of(v), v, tl_get(v, "key_schedule"), tl_get(v, "traffic"));
    printf("aths_attested_key: %d values checked\n", n.values);
}

static void test_aths_fresh_mutual_schedule(void **state)
{
    (void)state;
    counter n = {0};
    json_t *v = tl_get(tl_vectors(), "aths_fresh_mutual");
    const httpa_suite *s = suite_of(v);
    assert_string_equal(s->token, "TLS_AES_256_GCM_SHA384");
    check_schedule(&n, s, v, tl_get(v, "key_schedule"), tl_get(v, "traffic"));
    printf("aths_fresh_mutual: %d values checked\n", n.values);
}

static void test_exporter_example(void **state)
{
    (void)state;
    json_t *v = tl_get(tl_vectors(), "aths_attested_key");
    json_t *ex = tl_get(v, "exporter_example");
    const httpa_suite *s = suite_of(v);
    httpa_buf em = tl_hex(tl_str(tl_get(v, "key_schedule"), "exporter_master"));
    httpa_buf ctx = tl_hex_at(ex, "context_hex");
    size_t len = (size_t)tl_int(ex, "length");
    uint8_t out[64];
    assert_true(len <= sizeof(out));
    assert_int_equal(httpa_export(s, em.base, tl_str(ex, "label"), httpa_buf_span(&ctx), out,
                                  len),
                     HTTPA_OK);
    counter n = {0};
    check_hex(&n, out, len, ex, "value_hex");
    /* A different label or context gives a different value. */
    uint8_t other[64];
    assert_int_equal(httpa_export(s, em.base, "EXPORTER-other", httpa_buf_span(&ctx), other,
                                  len),
                     HTTPA_OK);
    assert_memory_not_equal(out, other, len);
    assert_int_equal(httpa_export(s, em.base, tl_str(ex, "label"), HTTPA_SPAN("", 0), other,
                                  len),
                     HTTPA_OK);
    assert_memory_not_equal(out, other, len);
    printf("exporter: %d value checked\n", n.values);
    httpa_buf_free(&em);
    httpa_buf_free(&ctx);
}

static void test_tokens(void **state)
{
    (void)state;
    const char *want[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256"};
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(httpa_suites_preferred[i]);
        assert_string_equal(httpa_suites_preferred[i]->token, want[i]);
        assert_ptr_equal(httpa_suite_find(want[i], strlen(want[i])), httpa_suites_preferred[i]);
    }
    assert_null(httpa_suites_preferred[3]);
    const httpa_suite *c = httpa_suite_find(want[2], strlen(want[2]));
    assert_int_equal(c->aead, HTTPA_CHACHA20_POLY1305);
    assert_int_equal(c->key_len, 32);
    assert_int_equal(c->hlen, 32);
    assert_null(httpa_suite_find("TLS_AES_128_GCM_SHA25", 21));
    assert_null(httpa_suite_find("tls_aes_128_gcm_sha256", 22));
    assert_null(httpa_suite_find("TLS_AES_128_GCM_SHA256X", 23));

    assert_int_equal(httpa_group_find("x25519", 6), HTTPA_X25519);
    assert_int_equal(httpa_group_find("secp256r1", 9), HTTPA_SECP256R1);
    assert_int_equal(httpa_group_find("x25519mlkem768", 14), -1);
    assert_int_equal(httpa_group_find("x2551", 5), -1);
    assert_string_equal(httpa_group_token(HTTPA_SECP256R1), "secp256r1");
    assert_int_equal(httpa_sig_find("ed25519", 7), HTTPA_ED25519);
    assert_int_equal(httpa_sig_find("ecdsa-p256-sha256", 17), HTTPA_ECDSA_P256_SHA256);
    assert_int_equal(httpa_sig_find("ED25519", 7), -1);
    assert_string_equal(httpa_sig_token(HTTPA_ECDSA_P256_SHA256), "ecdsa-p256-sha256");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_schedule_all_suites),
        cmocka_unit_test(test_aths_attested_key_schedule),
        cmocka_unit_test(test_aths_fresh_mutual_schedule),
        cmocka_unit_test(test_exporter_example),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
