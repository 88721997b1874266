/* The replay window (profile 11.2) against the replay_window vector, and
 * its edge cases. */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "engine/protect.h"
#include "engine/window.h"

/* The check order of 11.2: seq < 2^56, fresh (read only), MAC (no state
 * change on failure), then fresh again and commit. */
static httpa_err ticket(httpa_window *w, uint64_t seq, bool mac_valid)
{
    if (seq >= HTTPA_SEQ_LIMIT)
        return HTTPA_ERR_BAD_TICKET;
    if (!httpa_window_fresh(w, seq))
        return HTTPA_ERR_REPLAY;
    if (!mac_valid)
        return HTTPA_ERR_BAD_TICKET;
    if (!httpa_window_fresh(w, seq))
        return HTTPA_ERR_REPLAY;
    httpa_window_commit(w, seq);
    return HTTPA_OK;
}

static bool win_eq(const httpa_window *a, const httpa_window *b)
{
    return a->any == b->any && a->max_seq == b->max_seq && a->bits[0] == b->bits[0] &&
           a->bits[1] == b->bits[1];
}

static httpa_err result_of(const char *s)
{
    if (strcmp(s, "accepted") == 0)
        return HTTPA_OK;
    if (strcmp(s, "replay") == 0)
        return HTTPA_ERR_REPLAY;
    if (strcmp(s, "bad_ticket") == 0)
        return HTTPA_ERR_BAD_TICKET;
    fail_msg("unknown result %s", s);
    return HTTPA_ERR_INTERNAL;
}

static void test_vector_events(void **state)
{
    (void)state;
    json_t *v = tl_get(tl_vectors(), "replay_window");
    assert_int_equal(tl_int(v, "window"), HTTPA_WINDOW);
    httpa_window w = {0};
    size_t i;
    json_t *ev;
    int n = 0;
    json_array_foreach(tl_get(v, "events"), i, ev)
    {
        json_t *seqj = tl_get(ev, "seq");
        assert_true(json_is_integer(seqj));
        uint64_t seq = (uint64_t)json_integer_value(seqj);
        httpa_window before = w;
        httpa_err got = ticket(&w, seq, json_is_true(tl_get(ev, "mac_valid")));
        assert_int_equal(got, result_of(tl_str(ev, "result")));
        assert_true(w.any);
        assert_int_equal(w.max_seq, (uint64_t)tl_int(ev, "max_seq_after"));
        if (got != HTTPA_OK)
            assert_true(win_eq(&before, &w));
        n++;
    }
    printf("replay_window: %d events\n", n);
}

static void accept_seq(httpa_window *w, uint64_t seq)
{
    assert_true(httpa_window_fresh(w, seq));
    httpa_window_commit(w, seq);
    assert_false(httpa_window_fresh(w, seq));
}

static void test_fresh_window(void **state)
{
    (void)state;
    httpa_window w = {0};
    assert_true(httpa_window_fresh(&w, 0));
    assert_true(httpa_window_fresh(&w, HTTPA_SEQ_LIMIT - 1));
    /* the first accepted seq need not be 0 */
    accept_seq(&w, 1000);
    assert_true(httpa_window_fresh(&w, 999));
    assert_true(httpa_window_fresh(&w, 1000 - 127));
    assert_false(httpa_window_fresh(&w, 1000 - 128));
    assert_false(httpa_window_fresh(&w, 0));
}

static void test_behind_edges(void **state)
{
    (void)state;
    httpa_window w = {0};
    accept_seq(&w, 500);
    /* exactly 127 behind: inside the window */
    accept_seq(&w, 373);
    /* exactly 128 behind: outside, never fresh */
    assert_false(httpa_window_fresh(&w, 372));
    /* every distance 1..127 can be accepted once */
    for (uint64_t d = 1; d < 127; d++)
        accept_seq(&w, 500 - d);
    for (uint64_t d = 0; d < 200; d++)
        assert_false(httpa_window_fresh(&w, 500 - d));
    assert_true(httpa_window_fresh(&w, 501));
}

static void test_shifts(void **state)
{
    (void)state;
    /* shifts of 1, 63, 64, 65, 127, 128, 129 and far ahead keep exactly the
     * bits that stay inside the window */
    const uint64_t shifts[] = {1, 2, 63, 64, 65, 100, 127, 128, 129, 1000, UINT64_C(1) << 40};
    for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
        httpa_window w = {0};
        for (uint64_t s = 1000; s < 1128; s++)
            accept_seq(&w, s); /* all 128 bits set, max 1127 */
        uint64_t next = 1127 + shifts[i];
        accept_seq(&w, next);
        for (uint64_t s = 1000; s < 1128; s++)
            assert_false(httpa_window_fresh(&w, s));
        /* bit d is set iff max_seq - d was accepted */
        for (uint64_t d = 0; d < 128; d++) {
            bool want = d == 0 || (next - d >= 1000 && next - d < 1128);
            bool got = (w.bits[d / 64] >> (d % 64)) & 1u;
            assert_int_equal(got, want);
        }
        /* seqs that were never accepted are fresh iff within the window */
        for (uint64_t s = 1128; s < next && s < 1128 + 300; s++)
            assert_int_equal(httpa_window_fresh(&w, s), next - s < 128);
    }
}

static void test_far_ahead_clears(void **state)
{
    (void)state;
    httpa_window w = {0};
    accept_seq(&w, 0);
    accept_seq(&w, 1);
    accept_seq(&w, 3);
    accept_seq(&w, 3 + 128);
    assert_int_equal(w.bits[0], 1);
    assert_int_equal(w.bits[1], 0);
    accept_seq(&w, HTTPA_SEQ_LIMIT - 1);
    assert_int_equal(w.max_seq, HTTPA_SEQ_LIMIT - 1);
    assert_int_equal(w.bits[0], 1);
    assert_int_equal(w.bits[1], 0);
    assert_false(httpa_window_fresh(&w, 3 + 128));
    assert_true(httpa_window_fresh(&w, HTTPA_SEQ_LIMIT - 2));
}

/* A forged huge seq whose MAC fails changes nothing: the AtB is not locked. */
static void test_forged_seq_changes_nothing(void **state)
{
    (void)state;
    httpa_window w = {0};
    accept_seq(&w, 7);
    httpa_window before = w;
    uint64_t forged = UINT64_C(1) << 55;
    assert_int_equal(ticket(&w, forged, false), HTTPA_ERR_BAD_TICKET);
    assert_true(win_eq(&before, &w));
    assert_int_equal(ticket(&w, HTTPA_SEQ_LIMIT, true), HTTPA_ERR_BAD_TICKET);
    assert_int_equal(ticket(&w, UINT64_MAX, true), HTTPA_ERR_BAD_TICKET);
    assert_true(win_eq(&before, &w));
    assert_int_equal(ticket(&w, 8, true), HTTPA_OK);
    assert_int_equal(ticket(&w, 6, true), HTTPA_OK);
    assert_int_equal(ticket(&w, 6, true), HTTPA_ERR_REPLAY);
    assert_int_equal(ticket(&w, forged, true), HTTPA_OK);
    assert_int_equal(w.max_seq, forged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_events),
        cmocka_unit_test(test_fresh_window),
        cmocka_unit_test(test_behind_edges),
        cmocka_unit_test(test_shifts),
        cmocka_unit_test(test_far_ahead_clears),
        cmocka_unit_test(test_forged_seq_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
