/* Message protection against the profile vectors: nonces, AAD, items, body
 * record streams (positive and negative), CargoPlain, tickets and binders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "engine/auth.h"
#include "engine/cargo.h"
#include "engine/protect.h"

#define NO_LIMIT UINT64_MAX
#define STREAMED UINT64_MAX

/* ---- helpers ---- */

static json_t *vec(const char *name)
{
    return tl_get(tl_vectors(), name);
}

static const httpa_suite *suite_named(const char *tok)
{
    const httpa_suite *s = httpa_suite_find(tok, strlen(tok));
    assert_non_null(s);
    return s;
}

static void assert_hex(const void *got, size_t len, json_t *o, const char *key)
{
    httpa_buf want = tl_hex_at(o, key);
    tl_assert_bytes(got, len, want.base, want.len);
    httpa_buf_free(&want);
}

/* Traffic keys of the attested-key AtHS: "c_ap_traffic", "s_ap_traffic"... */
static void aths_traffic(httpa_traffic *t, const char *secret_name)
{
    json_t *v = vec("aths_attested_key");
    httpa_buf sec = tl_hex(tl_str(tl_get(v, "key_schedule"), secret_name));
    assert_int_equal(httpa_traffic_init(t, suite_named(tl_str(v, "suite")), sec.base),
                     HTTPA_OK);
    httpa_buf_free(&sec);
}

/* Traffic keys given directly as key and iv (records_per_suite). */
static void traffic_from_key(httpa_traffic *t, const httpa_suite *s, json_t *o)
{
    httpa_buf key = tl_hex_at(o, "key_hex"), iv = tl_hex_at(o, "iv_hex");
    memset(t, 0, sizeof(*t));
    assert_int_equal(key.len, s->key_len);
    assert_int_equal(iv.len, HTTPA_IV_LEN);
    memcpy(t->key, key.base, key.len);
    memcpy(t->iv, iv.base, iv.len);
    t->suite = s;
    assert_int_equal(httpa_aead_new(s->aead, HTTPA_SPAN(key.base, key.len), &t->aead), HTTPA_OK);
    httpa_buf_free(&key);
    httpa_buf_free(&iv);
}

static void check_hash(const httpa_suite *s, json_t *o, const char *in_key, const char *hash_key,
                       uint8_t *out)
{
    httpa_buf in = tl_hex_at(o, in_key);
    assert_int_equal(httpa_hash(s->hash, httpa_buf_span(&in), out), HTTPA_OK);
    assert_hex(out, s->hlen, o, hash_key);
    httpa_buf_free(&in);
}

static void check_nonce_aad(const httpa_traffic *t, uint64_t seq, uint8_t item, uint32_t index,
                            bool fin, const uint8_t *hash, json_t *o)
{
    uint8_t nonce[HTTPA_IV_LEN], aad[14 + HTTPA_MAX_HASH];
    httpa_nonce(t->iv, seq, item, index, nonce);
    assert_hex(nonce, sizeof(nonce), o, "nonce_hex");
    size_t n = httpa_aad(seq, item, index, fin, hash, t->suite->hlen, aad);
    assert_int_equal(n, 14 + t->suite->hlen);
    assert_hex(aad, n, o, "aad_hex");
}

/* Seal `pt` in chunks of `chunk` octets (0: all at once); fin separately or
 * with the last chunk. */
static void seal_chunked(httpa_traffic *t, uint64_t seq, const uint8_t *hash, uint32_t rs,
                         uint64_t declared, httpa_span pt, size_t chunk, bool fin_alone,
                         httpa_buf *wire)
{
    httpa_stream st;
    assert_int_equal(httpa_stream_init(&st, t, seq, hash, rs, declared, NO_LIMIT), HTTPA_OK);
    size_t step = chunk ? chunk : pt.len, off = 0;
    do {
        size_t n = pt.len - off < step ? pt.len - off : step;
        bool last = off + n == pt.len;
        httpa_span part = HTTPA_SPAN(n ? pt.base + off : NULL, n);
        assert_int_equal(httpa_stream_seal(&st, part, last && !fin_alone, wire), HTTPA_OK);
        off += n;
    } while (off < pt.len);
    if (fin_alone || pt.len == 0) {
        httpa_err want = st.done ? HTTPA_ERR_BAD_STATE : HTTPA_OK;
        assert_int_equal(httpa_stream_seal(&st, HTTPA_SPAN(NULL, 0), true, wire), want);
    }
    assert_true(st.done);
    assert_false(st.failed);
    assert_int_equal(st.total, pt.len);
    httpa_stream_free(&st);
}

/* Open `wire` in chunks; returns the first error (HTTPA_OK if none) and
 * checks that a failed stream stays failed. */
static httpa_err open_chunked(httpa_traffic *t, uint64_t seq, const uint8_t *hash, uint32_t rs,
                              uint64_t declared, uint64_t max_total, httpa_span wire,
                              size_t chunk, bool fin_alone, httpa_buf *plain)
{
    httpa_stream st;
    httpa_err e = httpa_stream_init(&st, t, seq, hash, rs, declared, max_total);
    if (e != HTTPA_OK) {
        httpa_stream_free(&st);
        return e;
    }
    size_t step = chunk ? chunk : wire.len, off = 0;
    do {
        size_t n = wire.len - off < step ? wire.len - off : step;
        bool last = off + n == wire.len;
        e = httpa_stream_open(&st, HTTPA_SPAN(n ? wire.base + off : NULL, n),
                              last && !fin_alone, plain);
        off += n;
    } while (e == HTTPA_OK && off < wire.len);
    if (e == HTTPA_OK && (fin_alone || wire.len == 0) && !st.done)
        e = httpa_stream_open(&st, HTTPA_SPAN(NULL, 0), true, plain);
    if (e != HTTPA_OK) {
        size_t before = plain->len;
        assert_true(st.failed);
        assert_int_equal(httpa_stream_open(&st, wire, true, plain), HTTPA_ERR_BAD_STATE);
        assert_int_equal(plain->len, before);
    } else {
        assert_true(st.done);
        assert_int_equal(httpa_stream_open(&st, HTTPA_SPAN("x", 1), true, plain),
                         HTTPA_ERR_BAD_STATE);
    }
    httpa_stream_free(&st);
    return e;
}

static const size_t seal_chunks[] = {0, 1, 7, 333, 1023, 1024, 1025, 2047, 4096};
static const size_t open_chunks[] = {0, 1, 15, 16, 17, 1039, 1040, 1041, 3000};
#define NCHUNKS 9

/* Every chunking of sealing and opening reproduces the vector bytes. */
static int check_body(httpa_traffic *t, uint64_t seq, const uint8_t *hash, uint32_t rs,
                      uint64_t declared, httpa_span pt, httpa_span body)
{
    int n = 0;
    assert_int_equal(httpa_stream_wire_len(pt.len, rs), body.len);
    for (size_t i = 0; i < NCHUNKS; i++) {
        for (int alone = 0; alone < 2; alone++) {
            httpa_buf wire, plain;
            /* exactly sized buffers: nothing reserves more than it writes */
            httpa_buf_init(&wire, body.len);
            httpa_buf_init_sensitive(&plain, pt.len);
            seal_chunked(t, seq, hash, rs, declared, pt, seal_chunks[i], alone, &wire);
            tl_assert_bytes(wire.base, wire.len, body.base, body.len);
            assert_int_equal(open_chunked(t, seq, hash, rs, declared, NO_LIMIT, body,
                                          open_chunks[i], alone, &plain),
                             HTTPA_OK);
            tl_assert_bytes(plain.base, plain.len, pt.base, pt.len);
            httpa_buf_free(&wire);
            httpa_buf_free(&plain);
            n += 2;
        }
    }
    return n;
}

/* ---- records_per_suite ---- */

static void test_records_per_suite(void **state)
{
    (void)state;
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vec("records_per_suite"), i, v)
    {
        const httpa_suite *s = suite_named(tl_str(v, "suite"));
        httpa_traffic t;
        traffic_from_key(&t, s, v);
        uint8_t hash[HTTPA_MAX_HASH];
        check_hash(s, v, "ahl_core_hex", "ahl_core_hash_hex", hash);
        uint64_t seq = (uint64_t)tl_int(v, "seq");
        uint32_t rs = (uint32_t)tl_int(v, "record_size");
        httpa_buf pt = tl_hex_at(v, "plaintext_hex"), body;
        httpa_buf_init(&body, SIZE_MAX);
        size_t j;
        json_t *r;
        json_array_foreach(tl_get(v, "records"), j, r)
        {
            bool fin = json_is_true(tl_get(r, "final"));
            check_nonce_aad(&t, seq, HTTPA_ITEM_BODY, (uint32_t)tl_int(r, "index"), fin, hash, r);
            httpa_buf rec = tl_hex_at(r, "record_hex");
            assert_int_equal(rec.len, (size_t)tl_int(r, "plaintext_len") + HTTPA_TAG_LEN);
            assert_int_equal(httpa_buf_append(&body, rec.base, rec.len), HTTPA_OK);
            httpa_buf_free(&rec);
            n += 3;
        }
        n += check_body(&t, seq, hash, rs, pt.len, httpa_buf_span(&pt), httpa_buf_span(&body));
        n += check_body(&t, seq, hash, rs, STREAMED, httpa_buf_span(&pt), httpa_buf_span(&body));
        httpa_buf_free(&pt);
        httpa_buf_free(&body);
        httpa_traffic_wipe(&t);
    }
    printf("records_per_suite: %d checks\n", n);
}

/* ---- protected messages (atsp, trt_1, trt_2) ---- */

typedef struct side {
    const httpa_suite *s;
    httpa_traffic t;
    uint64_t seq;
    uint8_t core_hash[HTTPA_MAX_HASH];
    uint8_t full_hash[HTTPA_MAX_HASH];
} side;

static void side_init(side *sd, json_t *o, const char *secret_name)
{
    aths_traffic(&sd->t, secret_name);
    sd->s = sd->t.suite;
    sd->seq = (uint64_t)tl_int(o, "seq");
    check_hash(sd->s, o, "ahl_core_hex", "ahl_core_hash_hex", sd->core_hash);
    check_hash(sd->s, o, "ahl_full_hex", "ahl_full_hash_hex", sd->full_hash);
}

/* One AEAD item: nonce, AAD, seal and open; a flipped tag fails cleanly. */
static int check_item(side *sd, json_t *it)
{
    uint8_t item = (uint8_t)tl_int(it, "item");
    check_nonce_aad(&sd->t, sd->seq, item, 0, true, sd->core_hash, it);
    httpa_buf pt = tl_hex_at(it, "plaintext_hex"), ct = tl_hex_at(it, "ciphertext_hex"), out;
    httpa_buf_init_sensitive(&out, SIZE_MAX);
    assert_int_equal(httpa_item_seal(&sd->t, sd->seq, item, sd->core_hash, httpa_buf_span(&pt),
                                     &out),
                     HTTPA_OK);
    tl_assert_bytes(out.base, out.len, ct.base, ct.len);
    httpa_buf_reset(&out);
    assert_int_equal(httpa_item_open(&sd->t, sd->seq, item, sd->core_hash, httpa_buf_span(&ct),
                                     &out),
                     HTTPA_OK);
    tl_assert_bytes(out.base, out.len, pt.base, pt.len);
    ct.base[ct.len - 1] ^= 1;
    assert_int_equal(httpa_item_open(&sd->t, sd->seq, item, sd->core_hash, httpa_buf_span(&ct),
                                     &out),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(out.len, pt.len);
    assert_int_equal(httpa_item_open(&sd->t, sd->seq, (uint8_t)(item + 1), sd->core_hash,
                                     HTTPA_SPAN(ct.base, 15), &out),
                     HTTPA_ERR_BAD_REQUEST);
    httpa_buf_free(&pt);
    httpa_buf_free(&ct);
    httpa_buf_free(&out);
    return 5;
}

/* Cargo plaintext decodes and re-encodes to the same octets. */
static int check_cargo_roundtrip(json_t *cargo_item, httpa_cargo *c, httpa_buf *plain)
{
    *plain = tl_hex_at(cargo_item, "plaintext_hex");
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(plain), c), HTTPA_OK);
    httpa_buf re;
    httpa_buf_init(&re, SIZE_MAX);
    assert_int_equal(httpa_cargo_encode(c, &re), HTTPA_OK);
    tl_assert_bytes(re.base, re.len, plain->base, plain->len);
    httpa_buf_free(&re);
    return 2;
}

static int check_message_body(side *sd, json_t *o, const httpa_cargo *c)
{
    httpa_buf body = tl_hex(tl_str(tl_get(o, "message"), "body_hex"));
    if (json_object_get(o, "records") == NULL) {
        assert_false(c->flags & HTTPA_CARGO_BODY);
        assert_int_equal(body.len, 0);
        httpa_buf_free(&body);
        return 1;
    }
    int n = 0;
    assert_true(c->flags & HTTPA_CARGO_BODY);
    assert_int_equal(c->record_size, tl_int(o, "record_size"));
    uint64_t declared = (c->flags & HTTPA_CARGO_STREAMED) ? STREAMED : c->content_length;
    size_t j;
    json_t *r;
    size_t off = 0;
    json_array_foreach(tl_get(o, "records"), j, r)
    {
        check_nonce_aad(&sd->t, sd->seq, HTTPA_ITEM_BODY, (uint32_t)tl_int(r, "index"),
                        json_is_true(tl_get(r, "final")), sd->core_hash, r);
        httpa_buf rec = tl_hex_at(r, "record_hex");
        assert_true(off + rec.len <= body.len);
        tl_assert_bytes(body.base + off, rec.len, rec.base, rec.len);
        off += rec.len;
        httpa_buf_free(&rec);
        n += 3;
    }
    assert_int_equal(off, body.len);
    httpa_buf pt = tl_hex_at(o, "body_plaintext_hex");
    if (declared != STREAMED)
        assert_int_equal(pt.len, declared);
    n += check_body(&sd->t, sd->seq, sd->core_hash, c->record_size, declared,
                    httpa_buf_span(&pt), httpa_buf_span(&body));
    httpa_buf_free(&pt);
    httpa_buf_free(&body);
    return n;
}

static int check_items(side *sd, json_t *o, httpa_cargo *c, httpa_buf *cargo_plain)
{
    json_t *items = tl_get(o, "items");
    json_t *cargo = tl_get(items, "cargo");
    assert_int_equal(tl_int(cargo, "item"), HTTPA_ITEM_CARGO);
    int n = check_item(sd, cargo) + check_cargo_roundtrip(cargo, c, cargo_plain);
    json_t *secrets = json_object_get(items, "secrets"), *it;
    size_t i;
    json_array_foreach(secrets, i, it)
    {
        assert_int_equal(tl_int(it, "item"), HTTPA_ITEM_SECRET0 + (int)i);
        n += check_item(sd, it);
    }
    return n;
}

/* ticket_mac or binder_mac and the Attest-Ticket/-Binder octets. */
static int check_auth(side *sd, json_t *o, const uint8_t *ticket_mac, uint8_t *mac_out)
{
    bool req = ticket_mac == NULL;
    if (req)
        assert_int_equal(httpa_ticket_mac(sd->s, sd->t.mac_key, sd->seq, sd->full_hash,
                                          mac_out),
                         HTTPA_OK);
    else
        assert_int_equal(httpa_binder_mac(sd->s, sd->t.mac_key, sd->seq, ticket_mac,
                                          sd->full_hash, mac_out),
                         HTTPA_OK);
    assert_hex(mac_out, sd->s->hlen, o, req ? "ticket_mac_hex" : "binder_mac_hex");
    httpa_buf v = tl_hex_at(o, req ? "attest_ticket_hex" : "attest_binder_hex");
    uint64_t seq;
    const uint8_t *mac;
    assert_int_equal(httpa_auth_split(sd->s, httpa_buf_span(&v), &seq, &mac), HTTPA_OK);
    assert_int_equal(seq, sd->seq);
    assert_true(httpa_ct_equal(mac, mac_out, sd->s->hlen));
    assert_int_equal(httpa_auth_split(sd->s, HTTPA_SPAN(v.base, v.len - 1), &seq, &mac),
                     HTTPA_ERR_BAD_TICKET);
    httpa_buf_free(&v);
    return 3;
}

static int check_side(json_t *o, const char *secret_name, const uint8_t *ticket_mac,
                      uint8_t *mac_out)
{
    side sd;
    side_init(&sd, o, secret_name);
    httpa_cargo c;
    httpa_buf cargo_plain;
    int n = 2 + check_items(&sd, o, &c, &cargo_plain);
    n += check_message_body(&sd, o, &c);
    n += check_auth(&sd, o, ticket_mac, mac_out);
    httpa_cargo_clear(&c);
    httpa_buf_free(&cargo_plain);
    httpa_traffic_wipe(&sd.t);
    return n;
}

static void test_protected_messages(void **state)
{
    (void)state;
    const char *names[] = {"atsp", "trt_1", "trt_2"};
    for (size_t i = 0; i < 3; i++) {
        json_t *m = vec(names[i]);
        uint8_t ticket[HTTPA_MAX_HASH], binder[HTTPA_MAX_HASH];
        int n = check_side(tl_get(m, "request"), "c_ap_traffic", NULL, ticket);
        n += check_side(tl_get(m, "response"), "s_ap_traffic", ticket, binder);
        printf("%s: %d checks\n", names[i], n);
    }
}

static void test_trt_1_sealed_fields(void **state)
{
    (void)state;
    json_t *req = tl_get(vec("trt_1"), "request");
    httpa_buf plain = tl_hex(tl_str(tl_get(tl_get(req, "items"), "cargo"), "plaintext_hex"));
    httpa_cargo c;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&plain), &c), HTTPA_OK);
    assert_int_equal(c.flags, HTTPA_CARGO_BODY | HTTPA_CARGO_TARGET);
    assert_int_equal(c.content_length, 2500);
    json_t *tgt = tl_get(req, "sealed_target");
    assert_memory_equal(c.method.base, tl_str(tgt, "method"), c.method.len);
    assert_int_equal(c.method.len, strlen(tl_str(tgt, "method")));
    assert_int_equal(c.target.len, strlen(tl_str(tgt, "target")));
    assert_memory_equal(c.target.base, tl_str(tgt, "target"), c.target.len);
    json_t *hs = tl_get(req, "sealed_headers"), *h;
    size_t i;
    assert_int_equal(c.nheaders, json_array_size(hs));
    json_array_foreach(hs, i, h)
    {
        const char *name = json_string_value(json_array_get(h, 0));
        const char *value = json_string_value(json_array_get(h, 1));
        assert_int_equal(c.headers[i].name.len, strlen(name));
        assert_memory_equal(c.headers[i].name.base, name, strlen(name));
        assert_int_equal(c.headers[i].value.len, strlen(value));
        assert_memory_equal(c.headers[i].value.base, value, strlen(value));
    }
    httpa_cargo_clear(&c);
    httpa_buf_free(&plain);
}

/* ---- AtHS binders and the AtHS-response secret ---- */

static int check_aths_binder(json_t *v)
{
    const httpa_suite *s = suite_named(tl_str(v, "suite"));
    json_t *b = tl_get(v, "aths_binder");
    httpa_traffic t;
    httpa_buf sec = tl_hex(tl_str(tl_get(v, "key_schedule"), "s_hs_traffic"));
    assert_int_equal(httpa_traffic_init(&t, s, sec.base), HTTPA_OK);
    assert_hex(t.mac_key, s->hlen, tl_get(tl_get(v, "traffic"), "s_hs"), "mac_key");
    httpa_buf th = tl_hex_at(v, "th_hs_hex"), ahl = tl_hex_at(b, "ahl_response_full_hex");
    uint8_t hash[HTTPA_MAX_HASH], mac[HTTPA_MAX_HASH];
    assert_int_equal(httpa_hash(s->hash, httpa_buf_span(&ahl), hash), HTTPA_OK);
    int n = 2;
    if (json_object_get(b, "ahl_response_full_hash_hex") != NULL) {
        assert_hex(hash, s->hlen, b, "ahl_response_full_hash_hex");
        n++;
    }
    assert_int_equal(tl_int(b, "seq"), 0);
    assert_int_equal(httpa_binder_mac(s, t.mac_key, 0, th.base, hash, mac), HTTPA_OK);
    assert_hex(mac, s->hlen, b, "binder_mac_hex");
    httpa_buf ab = tl_hex_at(b, "attest_binder_hex");
    uint64_t seq = 1;
    const uint8_t *m;
    assert_int_equal(httpa_auth_split(s, httpa_buf_span(&ab), &seq, &m), HTTPA_OK);
    assert_int_equal(seq, 0);
    assert_true(httpa_ct_equal(m, mac, s->hlen));
    httpa_buf_free(&ab);
    httpa_buf_free(&th);
    httpa_buf_free(&ahl);
    httpa_buf_free(&sec);
    httpa_traffic_wipe(&t);
    return n + 2;
}

static void test_aths_binders(void **state)
{
    (void)state;
    int n = check_aths_binder(vec("aths_attested_key"));
    n += check_aths_binder(vec("aths_fresh_mutual"));
    printf("AtHS binders: %d checks\n", n);
}

static void test_aths_response_secret(void **state)
{
    (void)state;
    json_t *v = vec("aths_fresh_mutual");
    json_t *it = tl_get(v, "aths_response_secret");
    side sd;
    sd.s = suite_named(tl_str(v, "suite"));
    httpa_buf sec = tl_hex(tl_str(tl_get(v, "key_schedule"), "s_hs_traffic"));
    assert_int_equal(httpa_traffic_init(&sd.t, sd.s, sec.base), HTTPA_OK);
    sd.seq = (uint64_t)tl_int(it, "seq");
    httpa_buf h = tl_hex_at(it, "ahl_core_hash_hex");
    memcpy(sd.core_hash, h.base, h.len);
    int n = check_item(&sd, it);
    printf("AtHS response secret: %d checks\n", n);
    httpa_buf_free(&h);
    httpa_buf_free(&sec);
    httpa_traffic_wipe(&sd.t);
}

/* ---- negative body tests ---- */

typedef struct body_case {
    httpa_traffic t;
    uint64_t seq;
    uint8_t hash[HTTPA_MAX_HASH];
    uint32_t rs;
    uint64_t declared;
    httpa_buf body;
    httpa_buf pt;
} body_case;

/* trt_1 request (declared 2500, 3 records) or trt_2 response (streamed,
 * 2 full records and an empty final one). */
static void body_case_load(body_case *bc, const char *msg, const char *dir, const char *secret)
{
    json_t *o = tl_get(vec(msg), dir);
    aths_traffic(&bc->t, secret);
    bc->seq = (uint64_t)tl_int(o, "seq");
    httpa_buf h = tl_hex_at(o, "ahl_core_hash_hex");
    memcpy(bc->hash, h.base, h.len);
    httpa_buf_free(&h);
    bc->rs = (uint32_t)tl_int(o, "record_size");
    bc->body = tl_hex(tl_str(tl_get(o, "message"), "body_hex"));
    bc->pt = tl_hex_at(o, "body_plaintext_hex");
    bc->declared = strcmp(msg, "trt_2") == 0 ? STREAMED : bc->pt.len;
}

static void body_case_free(body_case *bc)
{
    httpa_buf_free(&bc->body);
    httpa_buf_free(&bc->pt);
    httpa_traffic_wipe(&bc->t);
}

/* Open `wire` whole and in several chunkings: always `want`, and when it
 * fails, no plaintext beyond what earlier calls released. */
static int expect_open(body_case *bc, httpa_span wire, uint64_t declared, uint64_t max_total,
                       httpa_err want)
{
    const size_t chunks[] = {0, 1, 16, 1040, 1041};
    for (size_t i = 0; i < 5; i++) {
        for (int alone = 0; alone < 2; alone++) {
            httpa_buf plain;
            httpa_buf_init_sensitive(&plain, SIZE_MAX);
            httpa_err e = open_chunked(&bc->t, bc->seq, bc->hash, bc->rs, declared, max_total,
                                       wire, chunks[i], alone, &plain);
            assert_int_equal(e, want);
            if (e != HTTPA_OK && chunks[i] == 0 && !alone)
                assert_int_equal(plain.len, 0); /* one call: all or nothing */
            assert_true(plain.len <= bc->pt.len);
            if (plain.len)
                assert_memory_equal(plain.base, bc->pt.base, plain.len);
            httpa_buf_free(&plain);
        }
    }
    return 10;
}

static httpa_span span_of(const httpa_buf *b, size_t len)
{
    return HTTPA_SPAN(b->base, len);
}

static void test_body_negative(void **state)
{
    (void)state;
    body_case bc;
    body_case_load(&bc, "trt_1", "request", "c_ap_traffic");
    size_t full = bc.rs + 16, len = bc.body.len;
    int n = 0;
    assert_int_equal(len, 2 * full + 452 + 16);
    n += expect_open(&bc, httpa_buf_span(&bc.body), bc.declared, NO_LIMIT, HTTPA_OK);
    /* truncated: final record removed (also: ends exactly at a boundary) */
    n += expect_open(&bc, span_of(&bc.body, 2 * full), bc.declared, NO_LIMIT,
                     HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, span_of(&bc.body, 2 * full), STREAMED, NO_LIMIT,
                     HTTPA_ERR_BAD_REQUEST);
    /* short final record (< 16 octets) and a cut final record */
    n += expect_open(&bc, span_of(&bc.body, 2 * full + 15), STREAMED, NO_LIMIT,
                     HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, span_of(&bc.body, 2 * full + 15), bc.declared, NO_LIMIT,
                     HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, span_of(&bc.body, len - 1), STREAMED, NO_LIMIT,
                     HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, span_of(&bc.body, 0), STREAMED, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    /* data after the final record */
    httpa_buf longer;
    httpa_buf_init(&longer, SIZE_MAX);
    assert_int_equal(httpa_buf_append(&longer, bc.body.base, len), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&longer, "\0", 1), HTTPA_OK);
    n += expect_open(&bc, httpa_buf_span(&longer), bc.declared, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, httpa_buf_span(&longer), STREAMED, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_buf_append(&longer, bc.body.base + 2 * full, len - 2 * full - 1),
                     HTTPA_OK);
    n += expect_open(&bc, httpa_buf_span(&longer), STREAMED, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    httpa_buf_free(&longer);
    /* declared length mismatch */
    n += expect_open(&bc, httpa_buf_span(&bc.body), 2499, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, httpa_buf_span(&bc.body), 2501, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, httpa_buf_span(&bc.body), 0, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    n += expect_open(&bc, httpa_buf_span(&bc.body), 1024, NO_LIMIT, HTTPA_ERR_BAD_REQUEST);
    /* max_total */
    n += expect_open(&bc, httpa_buf_span(&bc.body), STREAMED, 2500, HTTPA_OK);
    n += expect_open(&bc, httpa_buf_span(&bc.body), STREAMED, 2499, HTTPA_ERR_TOO_LARGE);
    n += expect_open(&bc, httpa_buf_span(&bc.body), STREAMED, 2000, HTTPA_ERR_TOO_LARGE);
    n += expect_open(&bc, httpa_buf_span(&bc.body), bc.declared, 2499, HTTPA_ERR_TOO_LARGE);
    printf("body negatives: %d checks\n", n);
    body_case_free(&bc);
}

static void test_body_every_byte_flipped(void **state)
{
    (void)state;
    body_case bc;
    body_case_load(&bc, "trt_1", "request", "c_ap_traffic");
    int n = 0;
    for (size_t i = 0; i < bc.body.len; i++) {
        for (int pass = 0; pass < 2; pass++) {
            httpa_buf plain;
            httpa_buf_init_sensitive(&plain, SIZE_MAX);
            bc.body.base[i] ^= pass ? 0x80 : 0x01;
            uint64_t declared = pass ? STREAMED : bc.declared;
            assert_int_equal(open_chunked(&bc.t, bc.seq, bc.hash, bc.rs, declared, NO_LIMIT,
                                          httpa_buf_span(&bc.body), 0, false, &plain),
                             HTTPA_ERR_BAD_REQUEST);
            assert_int_equal(plain.len, 0);
            bc.body.base[i] ^= pass ? 0x80 : 0x01;
            httpa_buf_free(&plain);
            n++;
        }
    }
    printf("flipped octets: %d rejected\n", n);
    body_case_free(&bc);
}

static void swap_records(httpa_buf *b, size_t full, size_t i, size_t j)
{
    uint8_t *tmp = malloc(full);
    assert_non_null(tmp);
    memcpy(tmp, b->base + i * full, full);
    memcpy(b->base + i * full, b->base + j * full, full);
    memcpy(b->base + j * full, tmp, full);
    free(tmp);
}

static void test_body_reordered_and_boundary(void **state)
{
    (void)state;
    int n = 0;
    const char *msgs[][3] = {{"trt_1", "request", "c_ap_traffic"},
                             {"trt_2", "response", "s_ap_traffic"}};
    for (size_t k = 0; k < 2; k++) {
        body_case bc;
        body_case_load(&bc, msgs[k][0], msgs[k][1], msgs[k][2]);
        size_t full = bc.rs + 16;
        n += expect_open(&bc, httpa_buf_span(&bc.body), bc.declared, NO_LIMIT, HTTPA_OK);
        swap_records(&bc.body, full, 0, 1);
        n += expect_open(&bc, httpa_buf_span(&bc.body), bc.declared, NO_LIMIT,
                         HTTPA_ERR_BAD_REQUEST);
        swap_records(&bc.body, full, 0, 1);
        /* the final record moved forward (same total length) */
        if (bc.body.len == 2 * full + 16) {
            httpa_buf moved;
            httpa_buf_init(&moved, SIZE_MAX);
            assert_int_equal(httpa_buf_append(&moved, bc.body.base + 2 * full, 16), HTTPA_OK);
            assert_int_equal(httpa_buf_append(&moved, bc.body.base, 2 * full), HTTPA_OK);
            n += expect_open(&bc, httpa_buf_span(&moved), bc.declared, NO_LIMIT,
                             HTTPA_ERR_BAD_REQUEST);
            httpa_buf_free(&moved);
        }
        /* ends exactly at a record boundary: no final record */
        n += expect_open(&bc, span_of(&bc.body, 2 * full), bc.declared, NO_LIMIT,
                         HTTPA_ERR_BAD_REQUEST);
        n += expect_open(&bc, span_of(&bc.body, full), bc.declared, NO_LIMIT,
                         HTTPA_ERR_BAD_REQUEST);
        body_case_free(&bc);
    }
    printf("reordered/boundary: %d checks\n", n);
}

static void test_seal_limits(void **state)
{
    (void)state;
    body_case bc;
    body_case_load(&bc, "trt_1", "request", "c_ap_traffic");
    httpa_buf wire;
    httpa_buf_init(&wire, SIZE_MAX);
    httpa_stream st;
    /* more than declared: an error at once */
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, 2499, NO_LIMIT),
                     HTTPA_OK);
    assert_int_equal(httpa_stream_seal(&st, httpa_buf_span(&bc.pt), false, &wire),
                     HTTPA_ERR_BAD_REQUEST);
    assert_true(st.failed);
    assert_int_equal(wire.len, 0);
    assert_int_equal(httpa_stream_seal(&st, span_of(&bc.pt, 1), true, &wire),
                     HTTPA_ERR_BAD_STATE);
    httpa_stream_free(&st);
    /* fewer than declared at fin */
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, 2501, NO_LIMIT),
                     HTTPA_OK);
    assert_int_equal(httpa_stream_seal(&st, httpa_buf_span(&bc.pt), false, &wire), HTTPA_OK);
    assert_int_equal(wire.len, 2 * 1040);
    assert_int_equal(httpa_stream_seal(&st, HTTPA_SPAN(NULL, 0), true, &wire),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(wire.len, 2 * 1040);
    assert_true(st.failed);
    httpa_stream_free(&st);
    /* max_total */
    wire.len = 0;
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, STREAMED, 2499),
                     HTTPA_OK);
    assert_int_equal(httpa_stream_seal(&st, httpa_buf_span(&bc.pt), true, &wire),
                     HTTPA_ERR_TOO_LARGE);
    assert_int_equal(wire.len, 0);
    httpa_stream_free(&st);
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, 2500, 2499),
                     HTTPA_ERR_TOO_LARGE);
    httpa_stream_free(&st);
    /* bad arguments */
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, 1023, STREAMED, NO_LIMIT),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, 65537, STREAMED, NO_LIMIT),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_stream_init(&st, &bc.t, HTTPA_SEQ_LIMIT, bc.hash, 1024, STREAMED,
                                       NO_LIMIT),
                     HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_stream_seal(&st, HTTPA_SPAN(NULL, 0), true, &wire),
                     HTTPA_ERR_BAD_STATE);
    httpa_stream_free(&st);
    httpa_buf_free(&wire);
    body_case_free(&bc);
}

/* The record index never wraps: a full record at index 2^32 - 1 would need
 * a final record at 2^32. */
static void test_index_limit(void **state)
{
    (void)state;
    body_case bc;
    body_case_load(&bc, "trt_1", "request", "c_ap_traffic");
    httpa_buf wire, plain;
    httpa_buf_init(&wire, SIZE_MAX);
    httpa_buf_init(&plain, SIZE_MAX);
    httpa_stream st;
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, STREAMED, NO_LIMIT),
                     HTTPA_OK);
    st.index = UINT32_MAX - 1;
    assert_int_equal(httpa_stream_seal(&st, span_of(&bc.pt, 1024), false, &wire), HTTPA_OK);
    assert_int_equal(st.index, UINT32_MAX);
    assert_int_equal(httpa_stream_seal(&st, span_of(&bc.pt, 1024), false, &wire),
                     HTTPA_ERR_TOO_LARGE);
    httpa_stream_free(&st);
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, STREAMED, NO_LIMIT),
                     HTTPA_OK);
    st.index = UINT32_MAX - 1;
    assert_int_equal(httpa_stream_seal(&st, span_of(&bc.pt, 1500), true, &wire), HTTPA_OK);
    httpa_stream_free(&st);
    assert_int_equal(httpa_stream_init(&st, &bc.t, bc.seq, bc.hash, bc.rs, STREAMED, NO_LIMIT),
                     HTTPA_OK);
    st.index = UINT32_MAX;
    assert_int_equal(httpa_stream_open(&st, span_of(&bc.body, 1040), false, &plain),
                     HTTPA_ERR_TOO_LARGE);
    assert_int_equal(plain.len, 0);
    httpa_stream_free(&st);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    body_case_free(&bc);
}

/* Empty bodies (one empty final record) and empty items open into buffers
 * that have never been allocated. */
static void test_empty_body_and_item(void **state)
{
    (void)state;
    body_case bc;
    body_case_load(&bc, "trt_1", "request", "c_ap_traffic");
    for (int declared = 0; declared < 2; declared++) {
        httpa_buf wire, plain;
        httpa_buf_init(&wire, 16);
        httpa_buf_init(&plain, 0);
        uint64_t d = declared ? 0 : STREAMED;
        seal_chunked(&bc.t, bc.seq, bc.hash, bc.rs, d, HTTPA_SPAN(NULL, 0), 0, false, &wire);
        assert_int_equal(wire.len, 16);
        assert_int_equal(open_chunked(&bc.t, bc.seq, bc.hash, bc.rs, d, NO_LIMIT,
                                      httpa_buf_span(&wire), 0, false, &plain),
                         HTTPA_OK);
        assert_int_equal(plain.len, 0);
        assert_int_equal(open_chunked(&bc.t, bc.seq, bc.hash, bc.rs, d, NO_LIMIT,
                                      httpa_buf_span(&wire), 1, true, &plain),
                         HTTPA_OK);
        wire.base[3] ^= 4;
        assert_int_equal(open_chunked(&bc.t, bc.seq, bc.hash, bc.rs, d, NO_LIMIT,
                                      httpa_buf_span(&wire), 0, false, &plain),
                         HTTPA_ERR_BAD_REQUEST);
        httpa_buf_free(&wire);
        httpa_buf_free(&plain);
    }
    httpa_buf ct, pt;
    httpa_buf_init(&ct, SIZE_MAX);
    httpa_buf_init(&pt, SIZE_MAX);
    assert_int_equal(httpa_item_seal(&bc.t, 9, 7, bc.hash, HTTPA_SPAN(NULL, 0), &ct), HTTPA_OK);
    assert_int_equal(ct.len, 16);
    assert_int_equal(httpa_item_open(&bc.t, 9, 7, bc.hash, httpa_buf_span(&ct), &pt), HTTPA_OK);
    assert_int_equal(pt.len, 0);
    assert_int_equal(httpa_item_open(&bc.t, 9, 8, bc.hash, httpa_buf_span(&ct), &pt),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_item_seal(&bc.t, HTTPA_SEQ_LIMIT, 1, bc.hash, HTTPA_SPAN(NULL, 0),
                                     &ct),
                     HTTPA_ERR_INVALID_ARG);
    httpa_buf_free(&ct);
    httpa_buf_free(&pt);
    body_case_free(&bc);
}

static void test_wire_len(void **state)
{
    (void)state;
    assert_int_equal(httpa_stream_wire_len(0, 1024), 16);
    assert_int_equal(httpa_stream_wire_len(1023, 1024), 1023 + 16);
    assert_int_equal(httpa_stream_wire_len(1024, 1024), 1040 + 16);
    assert_int_equal(httpa_stream_wire_len(2500, 1024), 2548);
    assert_int_equal(httpa_stream_wire_len(2048, 1024), 2096);
    assert_int_equal(httpa_stream_wire_len(UINT64_C(1) << 36, 16384),
                     (UINT64_C(1) << 36) + 16 * (UINT64_C(1) << 22) + 16);
    assert_int_equal(httpa_stream_wire_len(UINT64_MAX, 1024), UINT64_MAX);
}

/* ---- CargoPlain ---- */

/* Serialize without any validation, to produce invalid encodings. */
static void raw_cargo(const httpa_cargo *c, uint8_t version, httpa_buf *out)
{
    assert_int_equal(httpa_buf_append_u8(out, version), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(out, c->flags), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u32(out, c->record_size), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u64(out, c->content_length), HTTPA_OK);
    const httpa_span *s16[] = {&c->content_type, &c->content_encoding, &c->method, &c->target};
    size_t n16 = (c->flags & HTTPA_CARGO_TARGET) ? 4 : 2;
    for (size_t i = 0; i < n16; i++) {
        assert_int_equal(httpa_buf_append_u16(out, (uint16_t)s16[i]->len), HTTPA_OK);
        assert_int_equal(httpa_buf_append(out, s16[i]->base, s16[i]->len), HTTPA_OK);
    }
    assert_int_equal(httpa_buf_append_u16(out, (uint16_t)c->nheaders), HTTPA_OK);
    for (size_t i = 0; i < c->nheaders; i++) {
        const httpa_cargo_header *h = &c->headers[i];
        assert_int_equal(httpa_buf_append_u16(out, (uint16_t)h->name.len), HTTPA_OK);
        assert_int_equal(httpa_buf_append(out, h->name.base, h->name.len), HTTPA_OK);
        assert_int_equal(httpa_buf_append_u32(out, (uint32_t)h->value.len), HTTPA_OK);
        assert_int_equal(httpa_buf_append(out, h->value.base, h->value.len), HTTPA_OK);
    }
}

/* `c` breaks a rule: decode rejects its raw encoding, encode refuses it. */
static int reject(const httpa_cargo *c)
{
    httpa_buf raw;
    httpa_buf_init(&raw, SIZE_MAX);
    raw_cargo(c, 1, &raw);
    httpa_cargo d;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&raw), &d), HTTPA_ERR_BAD_REQUEST);
    assert_null(d.headers);
    httpa_buf_reset(&raw);
    assert_int_equal(httpa_cargo_encode(c, &raw), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(raw.len, 0);
    httpa_buf_free(&raw);
    return 2;
}

/* `c` is valid: encode equals the raw encoding and decodes back to it. */
static int accept_cargo(const httpa_cargo *c)
{
    httpa_buf raw, enc;
    httpa_buf_init(&raw, SIZE_MAX);
    httpa_buf_init(&enc, SIZE_MAX);
    raw_cargo(c, 1, &raw);
    assert_int_equal(httpa_cargo_encode(c, &enc), HTTPA_OK);
    tl_assert_bytes(enc.base, enc.len, raw.base, raw.len);
    httpa_cargo d;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&raw), &d), HTTPA_OK);
    httpa_buf_reset(&enc);
    assert_int_equal(httpa_cargo_encode(&d, &enc), HTTPA_OK);
    tl_assert_bytes(enc.base, enc.len, raw.base, raw.len);
    httpa_cargo_clear(&d);
    httpa_buf_free(&raw);
    httpa_buf_free(&enc);
    return 3;
}

typedef struct cargo_fixture {
    httpa_buf plain;
    httpa_cargo base;
    httpa_cargo_header hdrs[HTTPA_CARGO_MAX_HEADERS + 1];
    uint8_t big[16385 + 8193];
} cargo_fixture;

static void fixture_init(cargo_fixture *f)
{
    json_t *req = tl_get(vec("trt_1"), "request");
    f->plain = tl_hex(tl_str(tl_get(tl_get(req, "items"), "cargo"), "plaintext_hex"));
    httpa_cargo d;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&f->plain), &d), HTTPA_OK);
    assert_int_equal(d.nheaders, 3);
    f->base = d;
    memcpy(f->hdrs, d.headers, 3 * sizeof(d.headers[0]));
    f->base.headers = f->hdrs;
    httpa_cargo_clear(&d);
    for (size_t i = 3; i <= HTTPA_CARGO_MAX_HEADERS; i++)
        f->hdrs[i] = f->hdrs[i % 3];
    memset(f->big, 'a', sizeof(f->big));
}

#define SPANS(s) HTTPA_SPAN_STR(s)

static int cargo_flag_cases(const cargo_fixture *f)
{
    int n = 0;
    httpa_cargo c = f->base;
    n += accept_cargo(&c);
    c.flags |= 0x08;
    n += reject(&c);
    c = f->base, c.flags = HTTPA_CARGO_STREAMED, c.record_size = 0, c.content_length = 0;
    n += reject(&c);
    c = f->base, c.record_size = 1023;
    n += reject(&c);
    c.record_size = 65537;
    n += reject(&c);
    c.record_size = 1024;
    n += accept_cargo(&c);
    c.record_size = 65536;
    n += accept_cargo(&c);
    c = f->base, c.flags &= (uint8_t)~HTTPA_CARGO_BODY, c.content_length = 0;
    n += reject(&c); /* rs != 0 without BODY */
    c.record_size = 0;
    n += accept_cargo(&c);
    c.content_length = 1;
    n += reject(&c); /* length without BODY */
    c = f->base, c.flags |= HTTPA_CARGO_STREAMED;
    n += reject(&c); /* length when STREAMED */
    c.content_length = 0;
    n += accept_cargo(&c);
    return n;
}

static int cargo_target_cases(const cargo_fixture *f)
{
    int n = 0;
    httpa_cargo c = f->base;
    c.method = HTTPA_SPAN("", 0);
    n += reject(&c);
    c.method = HTTPA_SPAN(f->big, 65);
    n += reject(&c);
    c.method = HTTPA_SPAN(f->big, 64);
    n += accept_cargo(&c);
    const char *bad_methods[] = {"ATTEST", "CONNECT", "GE T", "GET\r", "G\nT", "GE\0T", "GÉT"};
    const size_t bad_lens[] = {6, 7, 4, 4, 3, 4, 4};
    for (size_t i = 0; i < 7; i++) {
        c.method = HTTPA_SPAN(bad_methods[i], bad_lens[i]);
        n += reject(&c);
    }
    c.method = SPANS("attest"); /* methods are case-sensitive: a different method */
    n += accept_cargo(&c);
    c = f->base, c.target = HTTPA_SPAN("", 0);
    n += reject(&c);
    const char *bad_targets[] = {"api", "*", "/a b", "/a\r", "/\n", "/a\x7f", "/\t"};
    for (size_t i = 0; i < 7; i++) {
        c.target = HTTPA_SPAN(bad_targets[i], strlen(bad_targets[i]));
        n += reject(&c);
    }
    c.target = HTTPA_SPAN("/\0", 2);
    n += reject(&c);
    uint8_t t[8193];
    memset(t, 'x', sizeof(t));
    t[0] = '/';
    c.target = HTTPA_SPAN(t, 8193);
    n += reject(&c);
    c.target = HTTPA_SPAN(t, 8192);
    n += accept_cargo(&c);
    c = f->base, c.flags &= (uint8_t)~HTTPA_CARGO_TARGET;
    httpa_buf raw;
    httpa_buf_init(&raw, SIZE_MAX);
    assert_int_equal(httpa_cargo_encode(&c, &raw), HTTPA_ERR_INVALID_ARG); /* stray target */
    httpa_buf_free(&raw);
    c.method = c.target = HTTPA_SPAN(NULL, 0);
    n += accept_cargo(&c) + 1;
    return n;
}

static int cargo_header_cases(const cargo_fixture *f)
{
    int n = 0;
    httpa_cargo c = f->base;
    httpa_cargo_header h[1];
    c.headers = h;
    c.nheaders = 1;
    h[0] = f->hdrs[0];
    const char *bad_names[] = {"", "Authorization", "x y", ":path", "x\r", "a\n", "a,b", "é"};
    for (size_t i = 0; i < 8; i++) {
        h[0].name = HTTPA_SPAN(bad_names[i], strlen(bad_names[i]));
        n += reject(&c);
    }
    h[0].name = HTTPA_SPAN("a\0", 2);
    n += reject(&c);
    h[0].name = HTTPA_SPAN(f->big, 257);
    n += reject(&c);
    h[0].name = HTTPA_SPAN(f->big, 256);
    n += accept_cargo(&c);
    h[0] = f->hdrs[0];
    const char *bad_values[] = {" a", "a ", "\ta", "a\t", "a\rb", "a\nb", "a\x7f", "\x80", " "};
    for (size_t i = 0; i < 9; i++) {
        h[0].value = HTTPA_SPAN(bad_values[i], strlen(bad_values[i]));
        n += reject(&c);
    }
    h[0].value = HTTPA_SPAN("a\0b", 3);
    n += reject(&c);
    h[0].value = HTTPA_SPAN(f->big, 16385);
    n += reject(&c);
    h[0].value = HTTPA_SPAN(f->big, 16384);
    n += accept_cargo(&c); /* also a CargoPlain larger than 8192 octets */
    const char *good_values[] = {"", "a b\tc", "!~"};
    for (size_t i = 0; i < 3; i++) {
        h[0].value = HTTPA_SPAN(good_values[i], strlen(good_values[i]));
        n += accept_cargo(&c);
    }
    c = f->base;
    c.nheaders = HTTPA_CARGO_MAX_HEADERS + 1;
    n += reject(&c);
    c.nheaders = HTTPA_CARGO_MAX_HEADERS;
    n += accept_cargo(&c);
    return n;
}

static int cargo_content_cases(const cargo_fixture *f)
{
    int n = 0;
    httpa_cargo c = f->base;
    const char *bad[] = {"text/plain\r", "\n", " text/plain", "text/plain ", "a\x01"};
    for (size_t i = 0; i < 5; i++) {
        c = f->base, c.content_type = HTTPA_SPAN(bad[i], strlen(bad[i]));
        n += reject(&c);
        c = f->base, c.content_encoding = HTTPA_SPAN(bad[i], strlen(bad[i]));
        n += reject(&c);
    }
    c = f->base, c.content_encoding = HTTPA_SPAN("gzip\0", 5);
    n += reject(&c);
    c = f->base, c.content_encoding = SPANS("gzip, br"), c.content_type = HTTPA_SPAN("", 0);
    n += accept_cargo(&c);
    return n;
}

/* Version, truncation at every length, trailing octets, overlong lengths. */
static int cargo_framing_cases(const cargo_fixture *f)
{
    int n = 0;
    httpa_cargo d;
    httpa_buf b;
    httpa_buf_init(&b, SIZE_MAX);
    assert_int_equal(httpa_buf_append(&b, f->plain.base, f->plain.len), HTTPA_OK);
    for (size_t len = 0; len < f->plain.len; len++, n++)
        assert_int_equal(httpa_cargo_decode(span_of(&b, len), &d), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_buf_append_u8(&b, 0), HTTPA_OK);
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&b), &d), HTTPA_ERR_BAD_REQUEST);
    b.len--;
    const uint8_t versions[] = {0, 2, 0xff};
    for (size_t i = 0; i < 3; i++, n++) {
        b.base[0] = versions[i];
        assert_int_equal(httpa_cargo_decode(httpa_buf_span(&b), &d), HTTPA_ERR_BAD_REQUEST);
    }
    b.base[0] = 1;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&b), &d), HTTPA_OK);
    httpa_cargo_clear(&d);
    /* the last value's length says one octet more than there is */
    b.base[b.len - 5] = 5;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&b), &d), HTTPA_ERR_BAD_REQUEST);
    /* header_count 0xffff */
    httpa_cargo c = f->base;
    c.nheaders = 0;
    httpa_buf_reset(&b);
    raw_cargo(&c, 1, &b);
    b.base[b.len - 2] = b.base[b.len - 1] = 0xff;
    assert_int_equal(httpa_cargo_decode(httpa_buf_span(&b), &d), HTTPA_ERR_BAD_REQUEST);
    httpa_buf_free(&b);
    return n + 3;
}

static void test_cargo_rules(void **state)
{
    (void)state;
    cargo_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_init(f);
    int n = cargo_flag_cases(f);
    n += cargo_target_cases(f);
    n += cargo_header_cases(f);
    n += cargo_content_cases(f);
    n += cargo_framing_cases(f);
    printf("cargo rules: %d checks\n", n);
    httpa_buf_free(&f->plain);
    free(f);
}

static void test_cargo_may_seal(void **state)
{
    (void)state;
    const char *never[] = {"connection", "Keep-Alive", "proxy-connection", "TE", "trailer",
                           "transfer-encoding", "upgrade", "http2-settings",
                           "proxy-authorization", "Proxy-Authenticate", "host", "content-length",
                           "Content-Type", "content-encoding", "attest-ticket", "Attest-Foo",
                           "attest-", ":path", ":authority", "", "a b"};
    httpa_span none = HTTPA_SPAN(NULL, 0);
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        assert_false(httpa_cargo_may_seal(HTTPA_SPAN(never[i], strlen(never[i])), none));
    const char *ok[] = {"authorization", "Cookie", "set-cookie", "x-tenant", "attest",
                        "attestation", "hostname", "tee"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(httpa_cargo_may_seal(HTTPA_SPAN(ok[i], strlen(ok[i])), none));
    httpa_span conn = SPANS("keep-alive , X-Secret,\tx-other ,,");
    assert_false(httpa_cargo_may_seal(SPANS("x-secret"), conn));
    assert_false(httpa_cargo_may_seal(SPANS("X-Other"), conn));
    assert_true(httpa_cargo_may_seal(SPANS("x-secre"), conn));
    assert_true(httpa_cargo_may_seal(SPANS("cookie"), conn));
    assert_false(httpa_cargo_may_seal(SPANS("x-a"), SPANS("x-a")));
    assert_true(httpa_cargo_may_seal(SPANS("x-a"), HTTPA_SPAN("", 0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_per_suite),
        cmocka_unit_test(test_protected_messages),
        cmocka_unit_test(test_trt_1_sealed_fields),
        cmocka_unit_test(test_aths_binders),
        cmocka_unit_test(test_aths_response_secret),
        cmocka_unit_test(test_body_negative),
        cmocka_unit_test(test_body_every_byte_flipped),
        cmocka_unit_test(test_body_reordered_and_boundary),
        cmocka_unit_test(test_seal_limits),
        cmocka_unit_test(test_index_limit),
        cmocka_unit_test(test_empty_body_and_item),
        cmocka_unit_test(test_wire_len),
        cmocka_unit_test(test_cargo_rules),
        cmocka_unit_test(test_cargo_may_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
