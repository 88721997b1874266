/* The Attest-Base store (src/engine/store.c) on its own: the sliced sweep
 * of expired bases, and the replay cache's in-place deletion of expired
 * Attest-Random entries (backward shift), checked entry by entry against
 * what must and must not still be found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/store.h"

#define T0 1800000000

/* A deterministic 32-octet "random" for entry i (xorshift: spread homes). */
static void random_of(uint32_t i, uint8_t r[32])
{
    uint64_t x = 0x9e3779b97f4a7c15u ^ ((uint64_t)i * 0x2545f4914f6cdd1du);
    for (size_t k = 0; k < 32; k += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(r + k, &x, 8);
    }
}

static bool seen(httpa_store *st, uint32_t i, int64_t now)
{
    uint8_t r[32];
    random_of(i, r);
    return httpa_store_random_check(st, r, 0, now, false) == HTTPA_ERR_REPLAY;
}

/* Many entries with lifetimes spread over 240 s, swept at several times:
 * every live entry is still found (the deletions kept every probe
 * sequence intact), no expired one is, and the room they took is reused. */
static void test_replay_cache_sweep(void **state)
{
    (void)state;
    enum { N = 60000 };
    httpa_store *st;
    assert_int_equal(httpa_store_new(N, &st), HTTPA_OK);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t r[32];
        random_of(i, r);
        assert_int_equal(httpa_store_random_check(st, r, T0 + (int64_t)(i % 240), T0, true),
                         HTTPA_OK);
    }
    for (uint32_t i = 0; i < N; i += 7)
        assert_true(seen(st, i, T0));
    for (int64_t at = T0 + 30; at <= T0 + 240; at += 70) {
        httpa_store_sweep(st, at);
        for (uint32_t i = 0; i < N; i++) {
            bool live = T0 + (int64_t)(i % 240) >= at;
            if (seen(st, i, at) != live)
                fail_msg("entry %u (until +%u) after a sweep at +%lld: %s", i, i % 240,
                         (long long)(at - T0), live ? "lost" : "still there");
        }
    }
    /* all expired now: as many new entries fit again without a refusal */
    httpa_store_sweep(st, T0 + 241);
    for (uint32_t i = N; i < 2 * N; i++) {
        uint8_t r[32];
        random_of(i, r);
        assert_int_equal(httpa_store_random_check(st, r, T0 + 600, T0 + 241, true), HTTPA_OK);
    }
    for (uint32_t i = 0; i < 2 * N; i += 5)
        assert_int_equal(seen(st, i, T0 + 241), i >= N);
    httpa_store_free(st);
}

static httpa_base *base_with(uint32_t i, int64_t expires_at)
{
    httpa_base *b;
    assert_int_equal(httpa_base_new(&b), HTTPA_OK);
    snprintf(b->id, sizeof(b->id), "%08x-0000-4000-8000-%012x", i, i);
    b->expires_at = expires_at;
    return b;
}

/* Bases spread over many slices of buckets: a sweep removes exactly the
 * expired ones, the others stay usable, and a held reference keeps a swept
 * base alive until it is put back. */
static void test_base_sweep(void **state)
{
    (void)state;
    enum { N = 30000 };
    httpa_store *st;
    assert_int_equal(httpa_store_new(N, &st), HTTPA_OK);
    httpa_base *held = NULL;
    for (uint32_t i = 0; i < N; i++) {
        httpa_base *b = base_with(i, T0 + 10 + (int64_t)(i % 2));
        assert_int_equal(httpa_store_insert(st, b, T0), HTTPA_OK);
        if (i == 0)
            held = b; /* keep the creator's reference of an expiring base */
        else
            httpa_store_put(st, b);
    }
    assert_int_equal(httpa_store_count(st), N);
    assert_int_equal(httpa_store_sweep(st, T0 + 10), N / 2); /* the even ones */
    assert_int_equal(httpa_store_count(st), N / 2);
    for (uint32_t i = 0; i < N; i += 3) {
        char id[HTTPA_BASE_ID_LEN + 1];
        snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012x", i, i);
        httpa_base *b = NULL;
        httpa_err e = httpa_store_get(st, id, HTTPA_BASE_ID_LEN, T0 + 10, &b);
        assert_int_equal(e, i % 2 ? HTTPA_OK : HTTPA_ERR_UNKNOWN_BASE);
        httpa_store_put(st, b);
    }
    assert_string_equal(held->id, "00000000-0000-4000-8000-000000000000");
    httpa_store_put(st, held); /* the last reference: destroyed now */
    assert_int_equal(httpa_store_sweep(st, T0 + 11), N / 2);
    assert_int_equal(httpa_store_count(st), 0);
    httpa_store_free(st);
}

/* A full store refuses (503) while nothing has expired, and an insert
 * after the bases expired sweeps them itself and gets room. (That it sweeps
 * at most once a second is a cost, not visible here.) */
static void test_full_store(void **state)
{
    (void)state;
    httpa_store *st;
    assert_int_equal(httpa_store_new(2, &st), HTTPA_OK);
    for (uint32_t i = 0; i < 2; i++) {
        httpa_base *b = base_with(i, T0 + 5);
        assert_int_equal(httpa_store_insert(st, b, T0), HTTPA_OK);
        httpa_store_put(st, b);
    }
    httpa_base *b = base_with(2, T0 + 60);
    assert_int_equal(httpa_store_insert(st, b, T0), HTTPA_ERR_INTERNAL);
    assert_int_equal(httpa_store_insert(st, b, T0 + 5), HTTPA_OK); /* swept: both expired */
    assert_int_equal(httpa_store_count(st), 1);
    httpa_store_put(st, b);
    httpa_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_cache_sweep),
        cmocka_unit_test(test_base_sweep),
        cmocka_unit_test(test_full_store),
    };
    return cmocka_run_group_tests_name("engine_store", tests, NULL, NULL);
}
