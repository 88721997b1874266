/* Key exchange, signatures, AEAD, base64 and randomness against the shared
 * vectors, plus the rejections the profile requires. */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "httpa/crypto.h"

static json_t *vec(const char *name)
{
    return tl_get(tl_vectors(), name);
}

static httpa_span span_of(const httpa_buf *b)
{
    return httpa_buf_span(b);
}

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* ---- Key exchange ---- */

static httpa_kex *kex_from(httpa_group g, json_t *o, const char *priv_name,
                           const char *pub_name)
{
    httpa_buf priv = tl_hex_at(o, priv_name), want = tl_hex_at(o, pub_name);
    uint8_t pub[65];
    httpa_kex *k = NULL;
    assert_int_equal(httpa_kex_new(g, priv.base, priv.len, pub, &k), HTTPA_OK);
    tl_assert_bytes(pub, httpa_group_share_len(g), want.base, want.len);
    httpa_buf_free(&priv);
    httpa_buf_free(&want);
    return k;
}

static httpa_kex *x25519_from(json_t *fi, const char *side)
{
    char priv[64], pub[64];
    snprintf(priv, sizeof(priv), "%s_x25519_private_hex", side);
    snprintf(pub, sizeof(pub), "%s_x25519_public_hex", side);
    return kex_from(HTTPA_X25519, fi, priv, pub);
}

static void expect_shared(httpa_kex *k, json_t *o, const char *peer_name, const char *ss_name)
{
    httpa_buf peer = tl_hex_at(o, peer_name), want = tl_hex_at(o, ss_name);
    uint8_t ss[32];
    assert_int_equal(httpa_kex_derive(k, span_of(&peer), ss), HTTPA_OK);
    tl_assert_bytes(ss, sizeof(ss), want.base, want.len);
    httpa_buf_free(&peer);
    httpa_buf_free(&want);
}

static void test_x25519_fixed_inputs(void **state)
{
    (void)state;
    json_t *fi = vec("fixed_inputs");
    httpa_kex *c = x25519_from(fi, "client"), *s = x25519_from(fi, "server");
    expect_shared(c, fi, "server_x25519_public_hex", "x25519_shared_secret_hex");
    expect_shared(s, fi, "client_x25519_public_hex", "x25519_shared_secret_hex");
    httpa_kex_free(c);
    httpa_kex_free(s);
}

static void test_secp256r1_vectors(void **state)
{
    (void)state;
    json_t *v = vec("ecdhe_secp256r1");
    httpa_kex *c = kex_from(HTTPA_SECP256R1, v, "client_private_hex", "client_share_hex");
    httpa_kex *s = kex_from(HTTPA_SECP256R1, v, "server_private_hex", "server_share_hex");
    expect_shared(c, v, "server_share_hex", "shared_secret_hex");
    expect_shared(s, v, "client_share_hex", "shared_secret_hex");
    httpa_kex_free(c);
    httpa_kex_free(s);
}

static void test_random_key_pairs_agree(void **state)
{
    (void)state;
    for (int g = HTTPA_X25519; g <= HTTPA_SECP256R1; g++) {
        uint8_t pa[65], pb[65], sa[32], sb[32];
        size_t n = httpa_group_share_len((httpa_group)g);
        httpa_kex *a = NULL, *b = NULL;
        assert_int_equal(httpa_kex_new((httpa_group)g, NULL, 0, pa, &a), HTTPA_OK);
        assert_int_equal(httpa_kex_new((httpa_group)g, NULL, 0, pb, &b), HTTPA_OK);
        assert_int_equal(httpa_kex_check_share((httpa_group)g, HTTPA_SPAN(pa, n)), HTTPA_OK);
        assert_int_equal(httpa_kex_derive(a, HTTPA_SPAN(pb, n), sa), HTTPA_OK);
        assert_int_equal(httpa_kex_derive(b, HTTPA_SPAN(pa, n), sb), HTTPA_OK);
        tl_assert_bytes(sa, 32, sb, 32);
        assert_memory_not_equal(pa, pb, n);
        httpa_kex_free(a);
        httpa_kex_free(b);
    }
}

/* derive must fail with BAD_REQUEST and leave no partial secret behind. */
static void expect_bad_share(httpa_kex *k, httpa_group g, const uint8_t *share, size_t len)
{
    uint8_t ss[32];
    memset(ss, 0xaa, sizeof(ss));
    assert_int_equal(httpa_kex_check_share(g, HTTPA_SPAN(share, len)),
                     g == HTTPA_X25519 && len == 32 ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_kex_derive(k, HTTPA_SPAN(share, len), ss), HTTPA_ERR_BAD_REQUEST);
    assert_true(is_zero(ss, sizeof(ss)));
}

static void test_x25519_rejects_bad_shares(void **state)
{
    (void)state;
    json_t *fi = vec("fixed_inputs");
    httpa_kex *k = x25519_from(fi, "client");
    uint8_t share[33] = {0};
    expect_bad_share(k, HTTPA_X25519, share, 31);
    expect_bad_share(k, HTTPA_X25519, share, 33);
    /* Low-order u-coordinates (RFC 7748 section 6.1): 0, 1 and p = 2^255 - 19
     * give the all-zero output, which section 8.1 requires us to refuse. */
    expect_bad_share(k, HTTPA_X25519, share, 32);
    share[0] = 1;
    expect_bad_share(k, HTTPA_X25519, share, 32);
    memset(share, 0xff, 32);
    share[0] = 0xed;
    share[31] = 0x7f;
    expect_bad_share(k, HTTPA_X25519, share, 32);
    httpa_kex_free(k);
}

static void test_secp256r1_rejects_bad_shares(void **state)
{
    (void)state;
    json_t *v = vec("ecdhe_secp256r1");
    httpa_kex *k = kex_from(HTTPA_SECP256R1, v, "client_private_hex", "client_share_hex");
    httpa_buf good = tl_hex_at(v, "server_share_hex");
    uint8_t share[66] = {0};
    expect_bad_share(k, HTTPA_SECP256R1, good.base, 64);
    memcpy(share, good.base, 65);
    expect_bad_share(k, HTTPA_SECP256R1, share, 66);
    share[64] ^= 1; /* off the curve */
    expect_bad_share(k, HTTPA_SECP256R1, share, 65);
    memset(share, 0, sizeof(share));
    expect_bad_share(k, HTTPA_SECP256R1, share, 1); /* SEC 1 encoding of the identity */
    share[0] = 0x04;                                /* (0, 0) is not a curve point */
    expect_bad_share(k, HTTPA_SECP256R1, share, 65);
    memset(share + 1, 0xff, 64); /* coordinates >= p */
    expect_bad_share(k, HTTPA_SECP256R1, share, 65);
    /* The right point in compressed or hybrid form is still refused. */
    for (uint8_t prefix = 0x02; prefix <= 0x07; prefix++) {
        if (prefix == 0x04)
            continue;
        memcpy(share, good.base, 65);
        share[0] = prefix;
        expect_bad_share(k, HTTPA_SECP256R1, share, 65);
    }
    httpa_buf_free(&good);
    httpa_kex_free(k);
}

static void test_kex_refuses_bad_private_keys(void **state)
{
    (void)state;
    uint8_t priv[32], pub[65];
    httpa_kex *k = NULL;
    memset(priv, 0, sizeof(priv));
    assert_int_equal(httpa_kex_new(HTTPA_X25519, priv, 31, pub, &k), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_kex_new(HTTPA_SECP256R1, priv, 32, pub, &k), HTTPA_ERR_INVALID_ARG);
    memset(priv, 0xff, sizeof(priv)); /* >= the group order */
    assert_int_equal(httpa_kex_new(HTTPA_SECP256R1, priv, 32, pub, &k), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_kex_new((httpa_group)7, NULL, 0, pub, &k), HTTPA_ERR_INVALID_ARG);
    assert_null(k);
}

/* ---- Signatures ---- */

static void flip_and_expect_bad(httpa_sig_alg a, httpa_span pub, httpa_span msg, const uint8_t *sig)
{
    uint8_t bad[HTTPA_SIG_LEN];
    for (size_t bit = 0; bit < 8 * HTTPA_SIG_LEN; bit += 61) {
        memcpy(bad, sig, HTTPA_SIG_LEN);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(httpa_verify(a, pub, msg, HTTPA_SPAN(bad, HTTPA_SIG_LEN)),
                         HTTPA_ERR_BAD_QUOTE);
    }
    assert_int_equal(httpa_verify(a, pub, msg, HTTPA_SPAN(sig, HTTPA_SIG_LEN - 1)),
                     HTTPA_ERR_BAD_QUOTE);
    assert_int_equal(httpa_verify(a, HTTPA_SPAN(pub.base, pub.len - 1), msg,
                                  HTTPA_SPAN(sig, HTTPA_SIG_LEN)),
                     HTTPA_ERR_BAD_QUOTE);
    if (msg.len > 0)
        assert_int_equal(httpa_verify(a, pub, HTTPA_SPAN(msg.base, msg.len - 1),
                                      HTTPA_SPAN(sig, HTTPA_SIG_LEN)),
                         HTTPA_ERR_BAD_QUOTE);
}

static void test_ed25519_attested_key(void **state)
{
    (void)state;
    json_t *fi = vec("fixed_inputs"), *aths = vec("aths_attested_key");
    httpa_buf seed = tl_hex_at(fi, "attested_key_ed25519_seed_hex");
    httpa_buf want_pub = tl_hex_at(fi, "attested_key_ed25519_public_hex");
    httpa_buf msg = tl_hex_at(aths, "signature_input_hex");
    httpa_buf want_sig = tl_hex_at(aths, "signature_hex");
    uint8_t pub[32], sig[HTTPA_SIG_LEN];
    httpa_sign_key *k = NULL;
    assert_int_equal(httpa_sign_key_new(HTTPA_ED25519, seed.base, seed.len, pub, &k), HTTPA_OK);
    tl_assert_bytes(pub, sizeof(pub), want_pub.base, want_pub.len);
    assert_int_equal(httpa_sign(k, span_of(&msg), sig), HTTPA_OK);
    tl_assert_bytes(sig, sizeof(sig), want_sig.base, want_sig.len);
    assert_int_equal(httpa_verify(HTTPA_ED25519, span_of(&want_pub), span_of(&msg),
                                  span_of(&want_sig)),
                     HTTPA_OK);
    flip_and_expect_bad(HTTPA_ED25519, span_of(&want_pub), span_of(&msg), sig);
    httpa_sign_key_free(k);
    httpa_buf_free(&seed);
    httpa_buf_free(&want_pub);
    httpa_buf_free(&msg);
    httpa_buf_free(&want_sig);
}

static void test_ecdsa_attested_key(void **state)
{
    (void)state;
    json_t *fi = vec("fixed_inputs"), *v = vec("attested_key_ecdsa");
    httpa_buf priv = tl_hex_at(fi, "attested_key_ecdsa_p256_private_hex");
    httpa_buf pub = tl_hex_at(v, "public_hex"), msg = tl_hex_at(v, "signature_input_hex");
    httpa_buf sig = tl_hex_at(v, "signature_p1363_hex");
    assert_int_equal(httpa_verify(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg),
                                  span_of(&sig)),
                     HTTPA_OK);
    flip_and_expect_bad(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg), sig.base);

    uint8_t got_pub[65], mine[HTTPA_SIG_LEN];
    httpa_sign_key *k = NULL;
    assert_int_equal(httpa_sign_key_new(HTTPA_ECDSA_P256_SHA256, priv.base, priv.len, got_pub, &k),
                     HTTPA_OK);
    tl_assert_bytes(got_pub, sizeof(got_pub), pub.base, pub.len);
    assert_int_equal(httpa_sign(k, span_of(&msg), mine), HTTPA_OK);
    assert_int_equal(httpa_verify(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg),
                                  HTTPA_SPAN(mine, sizeof(mine))),
                     HTTPA_OK);
    flip_and_expect_bad(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg), mine);

    /* r = s = 0, and a public key off the curve. */
    memset(mine, 0, sizeof(mine));
    assert_int_equal(httpa_verify(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg),
                                  HTTPA_SPAN(mine, sizeof(mine))),
                     HTTPA_ERR_BAD_QUOTE);
    pub.base[64] ^= 1;
    assert_int_equal(httpa_verify(HTTPA_ECDSA_P256_SHA256, span_of(&pub), span_of(&msg),
                                  span_of(&sig)),
                     HTTPA_ERR_BAD_QUOTE);
    httpa_sign_key_free(k);
    httpa_buf_free(&priv);
    httpa_buf_free(&pub);
    httpa_buf_free(&msg);
    httpa_buf_free(&sig);
}

static void test_random_sign_keys_round_trip(void **state)
{
    (void)state;
    for (int a = HTTPA_ED25519; a <= HTTPA_ECDSA_P256_SHA256; a++) {
        uint8_t pub[HTTPA_SIG_MAX_PUB], sig[HTTPA_SIG_LEN];
        httpa_span pk = HTTPA_SPAN(pub, httpa_sig_pub_len((httpa_sig_alg)a));
        httpa_sign_key *k = NULL;
        assert_int_equal(httpa_sign_key_new((httpa_sig_alg)a, NULL, 0, pub, &k), HTTPA_OK);
        assert_int_equal(httpa_sign(k, HTTPA_SPAN(NULL, 0), sig), HTTPA_OK);
        assert_int_equal(httpa_verify((httpa_sig_alg)a, pk, HTTPA_SPAN(NULL, 0),
                                      HTTPA_SPAN(sig, sizeof(sig))),
                         HTTPA_OK);
        assert_int_equal(httpa_verify((httpa_sig_alg)a, pk, HTTPA_SPAN_STR("x"),
                                      HTTPA_SPAN(sig, sizeof(sig))),
                         HTTPA_ERR_BAD_QUOTE);
        httpa_sign_key_free(k);
    }
}

/* ---- AEAD ---- */

static const httpa_aead_alg all_aeads[] = {HTTPA_AES_128_GCM, HTTPA_AES_256_GCM,
                                           HTTPA_CHACHA20_POLY1305};

static httpa_aead *random_aead(httpa_aead_alg a)
{
    uint8_t key[HTTPA_MAX_KEY];
    httpa_aead *c = NULL;
    assert_int_equal(httpa_random(key, sizeof(key)), HTTPA_OK);
    assert_int_equal(httpa_aead_new(a, HTTPA_SPAN(key, httpa_aead_key_len(a)), &c), HTTPA_OK);
    return c;
}

static void test_aead_round_trip_and_in_place(void **state)
{
    (void)state;
    static const uint8_t pt[] = "attested request body";
    const size_t n = sizeof(pt);
    httpa_span aad = HTTPA_SPAN_STR("associated data");
    for (size_t i = 0; i < 3; i++) {
        httpa_aead *c = random_aead(all_aeads[i]);
        uint8_t nonce[HTTPA_IV_LEN] = {0}, ct[sizeof(pt) + HTTPA_TAG_LEN], back[sizeof(pt)];
        uint8_t buf[sizeof(pt) + HTTPA_TAG_LEN];
        for (uint8_t round = 0; round < 3; round++) {
            nonce[11] = round; /* the context is reused across nonces and directions */
            assert_int_equal(httpa_aead_seal(c, nonce, aad, pt, n, ct), HTTPA_OK);
            assert_int_equal(httpa_aead_open(c, nonce, aad, ct, sizeof(ct), back), HTTPA_OK);
            tl_assert_bytes(back, n, pt, n);
            memcpy(buf, pt, n);
            assert_int_equal(httpa_aead_seal(c, nonce, aad, buf, n, buf), HTTPA_OK);
            tl_assert_bytes(buf, sizeof(buf), ct, sizeof(ct));
            assert_int_equal(httpa_aead_open(c, nonce, aad, buf, sizeof(buf), buf), HTTPA_OK);
            tl_assert_bytes(buf, n, pt, n);
        }
        /* Empty plaintext and empty AAD: just a tag. */
        assert_int_equal(httpa_aead_seal(c, nonce, HTTPA_SPAN(NULL, 0), NULL, 0, ct), HTTPA_OK);
        assert_int_equal(httpa_aead_open(c, nonce, HTTPA_SPAN(NULL, 0), ct, HTTPA_TAG_LEN, back),
                         HTTPA_OK);
        httpa_aead_free(c);
    }
}

static void expect_open_fails(httpa_aead *c, const uint8_t *nonce, httpa_span aad,
                              const uint8_t *ct, size_t ct_len)
{
    uint8_t out[64];
    memset(out, 0xaa, sizeof(out));
    assert_int_equal(httpa_aead_open(c, nonce, aad, ct, ct_len, out), HTTPA_ERR_BAD_REQUEST);
    if (ct_len >= HTTPA_TAG_LEN)
        assert_true(is_zero(out, ct_len - HTTPA_TAG_LEN));
}

static void test_aead_tamper_is_rejected_and_wiped(void **state)
{
    (void)state;
    static const uint8_t pt[32] = "0123456789abcdef0123456789abcdef";
    httpa_span aad = HTTPA_SPAN_STR("aad");
    for (size_t i = 0; i < 3; i++) {
        httpa_aead *c = random_aead(all_aeads[i]);
        uint8_t nonce[HTTPA_IV_LEN] = {1}, ct[sizeof(pt) + HTTPA_TAG_LEN];
        assert_int_equal(httpa_aead_seal(c, nonce, aad, pt, sizeof(pt), ct), HTTPA_OK);
        for (size_t pos = 0; pos < sizeof(ct); pos += 7) {
            ct[pos] ^= 0x80;
            expect_open_fails(c, nonce, aad, ct, sizeof(ct));
            ct[pos] ^= 0x80;
        }
        ct[sizeof(ct) - 1] ^= 1; /* the tag */
        expect_open_fails(c, nonce, aad, ct, sizeof(ct));
        ct[sizeof(ct) - 1] ^= 1;
        expect_open_fails(c, nonce, HTTPA_SPAN_STR("aaD"), ct, sizeof(ct));
        nonce[0] ^= 1;
        expect_open_fails(c, nonce, aad, ct, sizeof(ct));
        nonce[0] ^= 1;
        expect_open_fails(c, nonce, aad, ct, HTTPA_TAG_LEN - 1);
        /* In place: the plaintext written over ct is wiped too. */
        ct[3] ^= 1;
        assert_int_equal(httpa_aead_open(c, nonce, aad, ct, sizeof(ct), ct), HTTPA_ERR_BAD_REQUEST);
        assert_true(is_zero(ct, sizeof(pt)));
        httpa_aead_free(c);
    }
    httpa_aead *c = NULL;
    uint8_t key[16] = {0};
    assert_int_equal(httpa_aead_new(HTTPA_AES_256_GCM, HTTPA_SPAN(key, 16), &c),
                     HTTPA_ERR_INVALID_ARG);
    assert_null(c);
}

static httpa_aead_alg suite_aead(const char *suite)
{
    if (strcmp(suite, "TLS_AES_128_GCM_SHA256") == 0)
        return HTTPA_AES_128_GCM;
    if (strcmp(suite, "TLS_AES_256_GCM_SHA384") == 0)
        return HTTPA_AES_256_GCM;
    assert_string_equal(suite, "TLS_CHACHA20_POLY1305_SHA256");
    return HTTPA_CHACHA20_POLY1305;
}

/* The vector's nonce and AAD follow section 9.1 from (seq, item 0, index). */
static void check_record_inputs(json_t *v, json_t *r, const httpa_buf *nonce, const httpa_buf *aad)
{
    httpa_buf iv = tl_hex_at(v, "iv_hex"), hash = tl_hex_at(v, "ahl_core_hash_hex");
    httpa_buf ahl = tl_hex_at(v, "ahl_core_hex");
    uint64_t seq = (uint64_t)tl_int(v, "seq");
    uint32_t index = (uint32_t)tl_int(r, "index");
    uint8_t want[HTTPA_IV_LEN], h[HTTPA_MAX_HASH];
    httpa_put_u32(want, index);
    httpa_put_u64(want + 4, seq << 8);
    for (size_t i = 0; i < HTTPA_IV_LEN; i++)
        want[i] ^= iv.base[i];
    tl_assert_bytes(nonce->base, nonce->len, want, sizeof(want));

    httpa_hash_alg ha = suite_aead(tl_str(v, "suite")) == HTTPA_AES_256_GCM ? HTTPA_SHA384
                                                                             : HTTPA_SHA256;
    assert_int_equal(httpa_hash(ha, span_of(&ahl), h), HTTPA_OK);
    tl_assert_bytes(h, httpa_hash_len(ha), hash.base, hash.len);
    uint8_t head[14];
    httpa_put_u64(head, seq);
    head[8] = 0;
    httpa_put_u32(head + 9, index);
    head[13] = json_is_true(tl_get(r, "final")) ? 1 : 0;
    assert_int_equal(aad->len, sizeof(head) + hash.len);
    tl_assert_bytes(aad->base, sizeof(head), head, sizeof(head));
    tl_assert_bytes(aad->base + sizeof(head), hash.len, hash.base, hash.len);
    httpa_buf_free(&iv);
    httpa_buf_free(&hash);
    httpa_buf_free(&ahl);
}

static int check_records(json_t *v)
{
    httpa_buf key = tl_hex_at(v, "key_hex"), pt = tl_hex_at(v, "plaintext_hex");
    size_t rs = (size_t)tl_int(v, "record_size"), off = 0;
    json_t *records = tl_get(v, "records");
    httpa_aead *c = NULL;
    assert_int_equal(httpa_aead_new(suite_aead(tl_str(v, "suite")), span_of(&key), &c), HTTPA_OK);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *r = json_array_get(records, i);
        httpa_buf nonce = tl_hex_at(r, "nonce_hex"), aad = tl_hex_at(r, "aad_hex");
        httpa_buf want = tl_hex_at(r, "record_hex");
        size_t n = (size_t)tl_int(r, "plaintext_len");
        assert_int_equal(off, (size_t)tl_int(r, "index") * rs);
        assert_true(off + n <= pt.len && want.len == n + HTTPA_TAG_LEN);
        check_record_inputs(v, r, &nonce, &aad);
        uint8_t *out = test_malloc(want.len);
        assert_int_equal(httpa_aead_seal(c, nonce.base, span_of(&aad), pt.base + off, n, out),
                         HTTPA_OK);
        tl_assert_bytes(out, want.len, want.base, want.len);
        assert_int_equal(httpa_aead_open(c, nonce.base, span_of(&aad), want.base, want.len, out),
                         HTTPA_OK);
        tl_assert_bytes(out, n, pt.base + off, n);
        test_free(out);
        off += n;
        httpa_buf_free(&nonce);
        httpa_buf_free(&aad);
        httpa_buf_free(&want);
    }
    assert_int_equal(off, pt.len);
    httpa_aead_free(c);
    httpa_buf_free(&key);
    httpa_buf_free(&pt);
    return (int)json_array_size(records);
}

static void test_records_per_suite(void **state)
{
    (void)state;
    json_t *all = vec("records_per_suite");
    int records = 0;
    assert_int_equal(json_array_size(all), 3);
    for (size_t i = 0; i < json_array_size(all); i++)
        records += check_records(json_array_get(all, i));
    print_message("records_per_suite: %d records sealed and opened\n", records);
}

/* ---- Base64, constant-time compare, randomness ---- */

static void expect_b64(int url, const char *bin, const char *txt)
{
    httpa_buf out;
    httpa_buf_init(&out, 1024);
    httpa_span in = HTTPA_SPAN(bin, strlen(bin));
    assert_int_equal(url ? httpa_base64url_encode(in, &out) : httpa_base64_encode(in, &out),
                     HTTPA_OK);
    tl_assert_bytes(out.base, out.len, txt, strlen(txt));
    httpa_buf_reset(&out);
    assert_int_equal(url ? httpa_base64url_decode(txt, strlen(txt), &out)
                         : httpa_base64_decode(txt, strlen(txt), &out),
                     HTTPA_OK);
    tl_assert_bytes(out.base, out.len, bin, strlen(bin));
    httpa_buf_free(&out);
}

static void expect_b64_bad(int url, const char *txt)
{
    httpa_buf out;
    httpa_buf_init(&out, 1024);
    assert_int_equal(httpa_buf_append(&out, "keep", 4), HTTPA_OK);
    httpa_err err = url ? httpa_base64url_decode(txt, strlen(txt), &out)
                        : httpa_base64_decode(txt, strlen(txt), &out);
    if (err != HTTPA_ERR_BAD_REQUEST)
        fail_msg("\"%s\" (url=%d) gave %s", txt, url, httpa_err_name(err));
    tl_assert_bytes(out.base, out.len, "keep", 4);
    httpa_buf_free(&out);
}

static void test_base64_rfc4648_and_strictness(void **state)
{
    (void)state;
    static const char *const rfc[][2] = {
        {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++)
        expect_b64(0, rfc[i][0], rfc[i][1]);
    expect_b64(0, "\xfb\xff", "+/8=");
    expect_b64(1, "\xfb\xff", "-_8");
    expect_b64(1, "f", "Zg");
    expect_b64(1, "foobar", "Zm9vYmFy");

    static const char *const bad[] = {
        "QR==",      /* non-zero padding bits */
        "Zh==", "Zm9=", "Zg", "Zg=", "Z", "Zm9vY", /* bits, missing or partial padding */
        "====", "Z===", "Zg==Zg==", "Zm9=v===", "=Zm9", /* misplaced padding */
        "Zm9v\n", " Zm9v", "Zm9*", "-_8=", "Zm9vYmFy\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_b64_bad(0, bad[i]);
    httpa_buf out;
    httpa_buf_init(&out, 16);
    assert_int_equal(httpa_base64_decode("Zm\0v", 4, &out), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_base64url_decode("Zm\0v", 4, &out), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_base64_decode(NULL, 0, &out), HTTPA_OK);
    assert_int_equal(out.len, 0);
    httpa_buf_free(&out);
    static const char *const bad_url[] = {"-_9", "Zg==", "Zg=", "Z", "+/8", "Zh", "Zm9vY", "Zm 9"};
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        expect_b64_bad(1, bad_url[i]);
}

/* Inputs spanning several internal chunks, and the buffer limit. */
static void test_base64_long_inputs_and_limits(void **state)
{
    (void)state;
    enum { N = 5003 };
    uint8_t *bin = test_malloc(N);
    assert_int_equal(httpa_random(bin, N), HTTPA_OK);
    for (int url = 0; url <= 1; url++) {
        httpa_buf txt, back;
        httpa_buf_init(&txt, SIZE_MAX);
        httpa_buf_init_sensitive(&back, SIZE_MAX);
        httpa_span in = HTTPA_SPAN(bin, N);
        assert_int_equal(url ? httpa_base64url_encode(in, &txt) : httpa_base64_encode(in, &txt),
                         HTTPA_OK);
        assert_int_equal(txt.len, url ? (N * 4 + 2) / 3 : (N + 2) / 3 * 4);
        const char *t = (const char *)txt.base;
        assert_int_equal(url ? httpa_base64url_decode(t, txt.len, &back)
                             : httpa_base64_decode(t, txt.len, &back),
                         HTTPA_OK);
        tl_assert_bytes(back.base, back.len, bin, N);
        /* A bad character in a later chunk undoes the whole decode. */
        httpa_buf_reset(&back);
        txt.base[3000] = '*';
        assert_int_equal(url ? httpa_base64url_decode(t, txt.len, &back)
                             : httpa_base64_decode(t, txt.len, &back),
                         HTTPA_ERR_BAD_REQUEST);
        assert_int_equal(back.len, 0);
        httpa_buf_free(&txt);
        httpa_buf_free(&back);
    }
    httpa_buf small;
    httpa_buf_init(&small, 2000);
    assert_int_equal(httpa_base64_encode(HTTPA_SPAN(bin, N), &small), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(small.len, 0);
    httpa_buf_free(&small);
    test_free(bin);
}

static void test_ct_equal_and_random(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(httpa_random(a, sizeof(a)), HTTPA_OK);
    memcpy(b, a, sizeof(b));
    assert_true(httpa_ct_equal(a, b, sizeof(a)));
    assert_true(httpa_ct_equal(a, b, 0));
    b[31] ^= 1;
    assert_false(httpa_ct_equal(a, b, sizeof(a)));
    b[31] ^= 1;
    b[0] ^= 0x80;
    assert_false(httpa_ct_equal(a, b, sizeof(a)));
    assert_int_equal(httpa_random(b, sizeof(b)), HTTPA_OK);
    assert_false(httpa_ct_equal(a, b, sizeof(a)));
    assert_int_equal(httpa_random(NULL, 0), HTTPA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_fixed_inputs),
        cmocka_unit_test(test_secp256r1_vectors),
        cmocka_unit_test(test_random_key_pairs_agree),
        cmocka_unit_test(test_x25519_rejects_bad_shares),
        cmocka_unit_test(test_secp256r1_rejects_bad_shares),
        cmocka_unit_test(test_kex_refuses_bad_private_keys),
        cmocka_unit_test(test_ed25519_attested_key),
        cmocka_unit_test(test_ecdsa_attested_key),
        cmocka_unit_test(test_random_sign_keys_round_trip),
        cmocka_unit_test(test_aead_round_trip_and_in_place),
        cmocka_unit_test(test_aead_tamper_is_rejected_and_wiped),
        cmocka_unit_test(test_records_per_suite),
        cmocka_unit_test(test_base64_rfc4648_and_strictness),
        cmocka_unit_test(test_base64_long_inputs_and_limits),
        cmocka_unit_test(test_ct_equal_and_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
