/* Hashes, HMAC, HKDF, HkdfLabel and the profile's key schedule (section 8.3)
 * against RFC known answers and the shared vectors. */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "httpa/crypto.h"

static httpa_span span_of(const httpa_buf *b)
{
    return httpa_buf_span(b);
}

static void test_sha2_known_answers(void **state)
{
    (void)state;
    uint8_t out[HTTPA_MAX_HASH];
    httpa_buf want = tl_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    httpa_span parts[] = {HTTPA_SPAN_STR("a"), HTTPA_SPAN(NULL, 0), HTTPA_SPAN_STR("bc")};
    assert_int_equal(httpa_hash(HTTPA_SHA256, HTTPA_SPAN_STR("abc"), out), HTTPA_OK);
    tl_assert_bytes(out, 32, want.base, want.len);
    assert_int_equal(httpa_hashv(HTTPA_SHA256, parts, 3, out), HTTPA_OK);
    tl_assert_bytes(out, 32, want.base, want.len);
    httpa_buf_free(&want);

    want = tl_hex("38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
                  "274edebfe76f65fbd51ad2f14898b95b");
    assert_int_equal(httpa_hash(HTTPA_SHA384, HTTPA_SPAN(NULL, 0), out), HTTPA_OK);
    tl_assert_bytes(out, httpa_hash_len(HTTPA_SHA384), want.base, want.len);
    httpa_buf_free(&want);

    want = tl_hex("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    assert_int_equal(httpa_hash(HTTPA_SHA512, HTTPA_SPAN_STR("abc"), out), HTTPA_OK);
    tl_assert_bytes(out, httpa_hash_len(HTTPA_SHA512), want.base, want.len);
    httpa_buf_free(&want);

    assert_int_equal(httpa_hash((httpa_hash_alg)99, HTTPA_SPAN_STR("abc"), out),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_hash_len((httpa_hash_alg)99), 0);
}

/* RFC 4231 test case 2, the message given in two pieces. */
static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    static const struct {
        httpa_hash_alg h;
        const char *mac;
    } cases[] = {
        {HTTPA_SHA256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {HTTPA_SHA384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
                       "8e2240ca5e69e2c78b3239ecfab21649"},
        {HTTPA_SHA512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                       "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    };
    httpa_span parts[] = {HTTPA_SPAN_STR("what do ya want "), HTTPA_SPAN_STR("for nothing?")};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[HTTPA_MAX_HASH];
        httpa_buf want = tl_hex(cases[i].mac);
        assert_int_equal(httpa_hmacv(cases[i].h, HTTPA_SPAN_STR("Jefe"), parts, 2, out), HTTPA_OK);
        tl_assert_bytes(out, httpa_hash_len(cases[i].h), want.base, want.len);
        httpa_buf_free(&want);
    }
}

static void check_hkdf(const char *ikm_hex, const char *salt_hex, const char *info_hex,
                       const char *prk_hex, const char *okm_hex)
{
    httpa_buf ikm = tl_hex(ikm_hex), salt = tl_hex(salt_hex), info = tl_hex(info_hex);
    httpa_buf prk = tl_hex(prk_hex), okm = tl_hex(okm_hex);
    uint8_t got_prk[32], got_okm[64];
    assert_int_equal(httpa_hkdf_extract(HTTPA_SHA256, span_of(&salt), span_of(&ikm), got_prk),
                     HTTPA_OK);
    tl_assert_bytes(got_prk, sizeof(got_prk), prk.base, prk.len);
    assert_int_equal(httpa_hkdf_expand(HTTPA_SHA256, span_of(&prk), span_of(&info), got_okm,
                                       okm.len),
                     HTTPA_OK);
    tl_assert_bytes(got_okm, okm.len, okm.base, okm.len);
    httpa_buf_free(&ikm);
    httpa_buf_free(&salt);
    httpa_buf_free(&info);
    httpa_buf_free(&prk);
    httpa_buf_free(&okm);
}

static void test_hkdf_rfc5869_case1(void **state)
{
    (void)state;
    check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
               "f0f1f2f3f4f5f6f7f8f9",
               "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
               "34007208d5b887185865");
}

/* Empty salt and info: the salt defaults to Hlen zero octets. */
static void test_hkdf_rfc5869_case3(void **state)
{
    (void)state;
    check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
               "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8");
}

static void test_hkdf_refuses_bad_lengths(void **state)
{
    (void)state;
    uint8_t prk[32] = {0}, out[32];
    httpa_span s = HTTPA_SPAN(prk, sizeof(prk));
    assert_int_equal(httpa_hkdf_expand(HTTPA_SHA256, s, HTTPA_SPAN(NULL, 0), out, 0),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_hkdf_expand(HTTPA_SHA256, s, HTTPA_SPAN(NULL, 0), out, 255 * 32 + 1),
                     HTTPA_ERR_INVALID_ARG);
    char label[250];
    memset(label, 'a', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    assert_int_equal(httpa_hkdf_expand_label(HTTPA_SHA256, s, label, HTTPA_SPAN(NULL, 0), out, 32),
                     HTTPA_ERR_INVALID_ARG);
    label[248] = '\0'; /* 7 + 248 = 255: the longest label that fits */
    assert_int_equal(httpa_hkdf_expand_label(HTTPA_SHA256, s, label, HTTPA_SPAN(NULL, 0), out, 32),
                     HTTPA_OK);
    uint8_t ctx[256] = {0}, hl[2 + 1 + 255 + 1 + 255];
    size_t hl_len;
    assert_int_equal(httpa_hkdf_label("key", HTTPA_SPAN(ctx, 256), 16, hl, &hl_len),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_hkdf_label("key", HTTPA_SPAN(ctx, 0), 65536, hl, &hl_len),
                     HTTPA_ERR_INVALID_ARG);
}

static void test_hkdf_label_example(void **state)
{
    (void)state;
    json_t *v = tl_get(tl_vectors(), "hkdf_label_example");
    httpa_buf ctx = tl_hex_at(v, "context_hex"), want = tl_hex_at(v, "hkdf_label_hex");
    uint8_t got[2 + 1 + 255 + 1 + 255];
    size_t got_len = 0;
    assert_int_equal(httpa_hkdf_label(tl_str(v, "label"), span_of(&ctx),
                                      (size_t)tl_int(v, "length"), got, &got_len),
                     HTTPA_OK);
    tl_assert_bytes(got, got_len, want.base, want.len);
    httpa_buf_free(&ctx);
    httpa_buf_free(&want);
}

/* ---- The key schedule, exactly as section 8.3 writes it. ---- */

typedef struct {
    json_t *v;
    httpa_hash_alg h;
    size_t hlen;
    int checked;
} schedule;

static void expect(schedule *s, json_t *o, const char *name, const uint8_t *got, size_t len)
{
    httpa_buf want = tl_hex_at(o, name);
    tl_assert_bytes(got, len, want.base, want.len);
    httpa_buf_free(&want);
    s->checked++;
}

static void derive_secret(schedule *s, const uint8_t *secret, const char *label, httpa_span ctx,
                          uint8_t *out)
{
    assert_int_equal(httpa_hkdf_expand_label(s->h, HTTPA_SPAN(secret, s->hlen), label, ctx, out,
                                             s->hlen),
                     HTTPA_OK);
}

static void check_traffic(schedule *s, json_t *keys, const uint8_t *secret, size_t key_len)
{
    httpa_span t = HTTPA_SPAN(secret, s->hlen), none = HTTPA_SPAN(NULL, 0);
    uint8_t key[HTTPA_MAX_KEY], iv[HTTPA_IV_LEN], mac[HTTPA_MAX_HASH];
    assert_int_equal(httpa_hkdf_expand_label(s->h, t, "key", none, key, key_len), HTTPA_OK);
    assert_int_equal(httpa_hkdf_expand_label(s->h, t, "iv", none, iv, sizeof(iv)), HTTPA_OK);
    assert_int_equal(httpa_hkdf_expand_label(s->h, t, "mac", none, mac, s->hlen), HTTPA_OK);
    expect(s, keys, "key", key, key_len);
    expect(s, keys, "iv", iv, sizeof(iv));
    expect(s, keys, "mac_key", mac, s->hlen);
}

static httpa_aead_alg aead_of(const char *name)
{
    if (strcmp(name, "aes-128-gcm") == 0)
        return HTTPA_AES_128_GCM;
    if (strcmp(name, "aes-256-gcm") == 0)
        return HTTPA_AES_256_GCM;
    assert_string_equal(name, "chacha20-poly1305");
    return HTTPA_CHACHA20_POLY1305;
}

static void check_schedule(schedule *s, json_t *v)
{
    size_t key_len = httpa_aead_key_len(aead_of(tl_str(v, "aead")));
    httpa_buf ecdhe = tl_hex_at(v, "ecdhe_shared_secret_hex"), th = tl_hex_at(v, "th_hs_hex");
    uint8_t zero[HTTPA_MAX_HASH] = {0}, empty_hash[HTTPA_MAX_HASH];
    uint8_t early[HTTPA_MAX_HASH], d0[HTTPA_MAX_HASH], hs[HTTPA_MAX_HASH], d1[HTTPA_MAX_HASH];
    uint8_t ms[HTTPA_MAX_HASH], t[4][HTTPA_MAX_HASH], exporter[HTTPA_MAX_HASH];
    httpa_span zeros = HTTPA_SPAN(zero, s->hlen), eh = HTTPA_SPAN(empty_hash, s->hlen);
    httpa_span th_hs = span_of(&th);

    assert_int_equal(httpa_hash(s->h, HTTPA_SPAN(NULL, 0), empty_hash), HTTPA_OK);
    assert_int_equal(httpa_hkdf_extract(s->h, zeros, zeros, early), HTTPA_OK);
    derive_secret(s, early, "derived", eh, d0);
    assert_int_equal(httpa_hkdf_extract(s->h, HTTPA_SPAN(d0, s->hlen), span_of(&ecdhe), hs),
                     HTTPA_OK);
    derive_secret(s, hs, "c hs traffic", th_hs, t[0]);
    derive_secret(s, hs, "s hs traffic", th_hs, t[1]);
    derive_secret(s, hs, "derived", eh, d1);
    assert_int_equal(httpa_hkdf_extract(s->h, HTTPA_SPAN(d1, s->hlen), zeros, ms), HTTPA_OK);
    derive_secret(s, ms, "c ap traffic", th_hs, t[2]);
    derive_secret(s, ms, "s ap traffic", th_hs, t[3]);
    derive_secret(s, ms, "exp master", th_hs, exporter);

    expect(s, v, "early_secret", early, s->hlen);
    expect(s, v, "derived_0", d0, s->hlen);
    expect(s, v, "handshake_secret", hs, s->hlen);
    expect(s, v, "c_hs_traffic", t[0], s->hlen);
    expect(s, v, "s_hs_traffic", t[1], s->hlen);
    expect(s, v, "derived_1", d1, s->hlen);
    expect(s, v, "master_secret", ms, s->hlen);
    expect(s, v, "c_ap_traffic", t[2], s->hlen);
    expect(s, v, "s_ap_traffic", t[3], s->hlen);
    expect(s, v, "exporter_master", exporter, s->hlen);

    static const char *const names[4] = {"c_hs", "s_hs", "c_ap", "s_ap"};
    json_t *traffic = tl_get(v, "traffic");
    for (size_t i = 0; i < 4; i++)
        check_traffic(s, tl_get(traffic, names[i]), t[i], key_len);
    httpa_buf_free(&ecdhe);
    httpa_buf_free(&th);
}

static void test_key_schedule_vectors(void **state)
{
    (void)state;
    json_t *all = tl_get(tl_vectors(), "key_schedule");
    schedule s = {0};
    assert_int_equal(json_array_size(all), 3);
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *v = json_array_get(all, i);
        s.h = strcmp(tl_str(v, "hash"), "sha384") == 0 ? HTTPA_SHA384 : HTTPA_SHA256;
        s.hlen = httpa_hash_len(s.h);
        check_schedule(&s, v);
    }
    printf("key schedule vectors: %d values checked\n", s.checked);
    assert_int_equal(s.checked, 3 * (10 + 4 * 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha2_known_answers),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hkdf_rfc5869_case1),
        cmocka_unit_test(test_hkdf_rfc5869_case3),
        cmocka_unit_test(test_hkdf_refuses_bad_lengths),
        cmocka_unit_test(test_hkdf_label_example),
        cmocka_unit_test(test_key_schedule_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
