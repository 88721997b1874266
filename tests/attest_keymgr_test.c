/* The attested-key manager: evidence comes from its own thread, keys rotate
 * by the configured (here: driven) clock, the previous key stays installed,
 * failures are retried, and the installed key's evidence binds it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"

#include "engine/session.h"
#include "httpa/keymgr.h"
#include "httpa/server.h"
#include "httpa/sim.h"

#define T0 1750000000
#define WAIT_MS 5000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A clock the test moves. */
typedef struct fake_clock {
    _Atomic int64_t now;
} fake_clock;

static int64_t clock_fn(void *arg)
{
    return atomic_load(&((fake_clock *)arg)->now);
}

/* The sim attester, watched: which thread asks, how often; it can hold
 * every quote until released, and fail a number of times. */
typedef struct watched {
    httpa_attester base;
    httpa_sim_attester sim;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold;
    unsigned fail_next;
    unsigned quotes;
    atomic_bool entered; /* a quote has started */
    pthread_t thread;
} watched;

static httpa_err watched_quote(httpa_attester *self, const uint8_t rd[HTTPA_REPORT_DATA_LEN],
                               httpa_buf *ev)
{
    watched *w = (watched *)self;
    pthread_mutex_lock(&w->mu);
    w->thread = pthread_self();
    atomic_store(&w->entered, true);
    while (w->hold)
        pthread_cond_wait(&w->cv, &w->mu);
    bool failing = w->fail_next > 0;
    if (failing)
        w->fail_next--;
    else
        w->quotes++;
    pthread_mutex_unlock(&w->mu);
    return failing ? HTTPA_ERR_IO : w->sim.base.quote(&w->sim.base, rd, ev);
}

static void watched_init(watched *w)
{
    uint8_t m[32] = {9};
    memset(w, 0, sizeof(*w));
    assert_int_equal(httpa_sim_attester_init(&w->sim, NULL, m, 1, false), HTTPA_OK);
    w->base.tee = "sim";
    w->base.quote = watched_quote;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void watched_release(watched *w)
{
    pthread_mutex_lock(&w->mu);
    w->hold = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void watched_free(watched *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    httpa_sim_attester_clear(&w->sim);
}

typedef struct fx {
    fake_clock clock;
    watched att;
    httpa_server *server;
    httpa_keymgr_config cfg;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    httpa_server_config sc = {.expires = 0};
    atomic_init(&f->clock.now, T0);
    watched_init(&f->att);
    assert_int_equal(httpa_server_new(&sc, &f->server), HTTPA_OK);
    f->cfg = (httpa_keymgr_config){
        .server = f->server,
        .attester = &f->att.base,
        .lifetime = 3600,
        .rotate_interval = 1800,
        .retry_interval = 60,
        .clock = clock_fn,
        .clock_arg = &f->clock,
        .poll_ms = 20,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    httpa_server_free(f->server);
    watched_free(&f->att);
    free(f);
    return 0;
}

static bool server_has(const httpa_server *s, const uint8_t *pub, size_t len, int64_t not_after)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].pub_len == len && memcmp(s->keys[i].pub, pub, len) == 0
            && s->keys[i].not_after == not_after)
            return true;
    return false;
}

/* The installed evidence is sim evidence over the key's report_data. */
static void assert_bound(const httpa_server *s, const httpa_keymgr_status *st, httpa_sig_alg alg,
                         const uint8_t sim_pub[32])
{
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    assert_int_equal(httpa_attested_key_report_data(alg, HTTPA_SPAN(st->current.pub,
                                                                     st->current.pub_len),
                                                    st->current.not_after, rd),
                     HTTPA_OK);
    for (size_t i = 0; i < s->nkeys; i++) {
        const httpa_server_key *k = &s->keys[i];
        if (k->not_after != st->current.not_after)
            continue;
        assert_int_equal(k->nev, 1);
        assert_string_equal(k->ev[0].tee, "sim");
        httpa_sim_verifier v;
        httpa_appraisal ap;
        httpa_sim_verifier_init(&v, sim_pub);
        assert_int_equal(v.base.appraise(&v.base, "sim", "raw", httpa_buf_span(&k->ev[0].evidence),
                                         T0, &ap),
                         HTTPA_OK);
        tl_assert_bytes(ap.report_data, 64, rd, 64);
        return;
    }
    fail_msg("current key not installed");
}

static void test_first_key_off_the_calling_thread(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    f->att.hold = true; /* the quote blocks until released */
    assert_int_equal(httpa_keymgr_start(&f->cfg, &m), HTTPA_OK);
    /* start returned while the quote is still pending */
    assert_int_equal(httpa_keymgr_wait(m, 1, 50), HTTPA_ERR_BAD_STATE);
    httpa_keymgr_status st;
    httpa_keymgr_get_status(m, &st);
    assert_int_equal(st.generation, 0);
    assert_false(st.current.set);
    watched_release(&f->att);
    assert_int_equal(httpa_keymgr_wait(m, 1, WAIT_MS), HTTPA_OK);
    assert_false(pthread_equal(f->att.thread, pthread_self()));

    httpa_keymgr_get_status(m, &st);
    assert_true(st.current.set);
    assert_false(st.previous.set);
    assert_int_equal(st.current.not_after, T0 + 3600);
    assert_int_equal(st.current.pub_len, 32);
    assert_int_equal(st.next_attempt, T0 + 1800);
    assert_int_equal(f->server->nkeys, 1);
    assert_true(server_has(f->server, st.current.pub, 32, T0 + 3600));
    assert_bound(f->server, &st, HTTPA_ED25519, f->att.sim.pub);
    httpa_keymgr_stop(m);
}

/* Move the clock, wake the manager, and wait for `gen` keys (or none). */
static void advance(fx *f, httpa_keymgr *m, int64_t to, uint64_t gen, bool expect_new)
{
    atomic_store(&f->clock.now, to);
    httpa_keymgr_kick(m);
    assert_int_equal(httpa_keymgr_wait(m, gen, expect_new ? WAIT_MS : 100),
                     expect_new ? HTTPA_OK : HTTPA_ERR_BAD_STATE);
}

static void test_rotation_keeps_previous(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    httpa_keymgr_status a, b;
    assert_int_equal(httpa_keymgr_start(&f->cfg, &m), HTTPA_OK);
    assert_int_equal(httpa_keymgr_wait(m, 1, WAIT_MS), HTTPA_OK);
    httpa_keymgr_get_status(m, &a);

    advance(f, m, T0 + 1799, 2, false); /* not yet due */
    advance(f, m, T0 + 1800, 2, true);
    httpa_keymgr_get_status(m, &b);
    assert_int_equal(b.generation, 2);
    assert_int_equal(b.current.not_after, T0 + 1800 + 3600);
    assert_true(b.previous.set);
    tl_assert_bytes(b.previous.pub, 32, a.current.pub, 32);
    assert_int_equal(b.previous.not_after, a.current.not_after);
    assert_memory_not_equal(b.current.pub, a.current.pub, 32);
    /* Both are installed: a handshake that picked the old one completes. */
    assert_int_equal(f->server->nkeys, 2);
    assert_true(server_has(f->server, a.current.pub, 32, a.current.not_after));
    assert_true(server_has(f->server, b.current.pub, 32, b.current.not_after));
    assert_bound(f->server, &b, HTTPA_ED25519, f->att.sim.pub);

    /* Many rotations: the server holds at most four, always current and previous. */
    for (uint64_t g = 3; g <= 7; g++) {
        advance(f, m, T0 + (int64_t)(g - 1) * 1800, g, true);
        httpa_keymgr_get_status(m, &b);
        assert_int_equal(f->server->nkeys, g < 4 ? g : 4);
        assert_true(server_has(f->server, b.current.pub, 32, b.current.not_after));
        assert_true(server_has(f->server, b.previous.pub, 32, b.previous.not_after));
    }
    assert_int_equal(f->att.quotes, 7);
    httpa_keymgr_stop(m);
}

/* Poll until the manager has failed `n` times in a row. */
static void wait_failures(httpa_keymgr *m, unsigned n, httpa_keymgr_status *st)
{
    for (int i = 0; i < WAIT_MS / 5; i++) {
        httpa_keymgr_get_status(m, st);
        if (st->failures >= n)
            return;
        sleep_ms(5);
    }
    fail_msg("%u failures, want %u", st->failures, n);
}

static void test_failure_is_retried(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    httpa_keymgr_status st;
    f->att.fail_next = 2;
    assert_int_equal(httpa_keymgr_start(&f->cfg, &m), HTTPA_OK);
    wait_failures(m, 1, &st);
    assert_int_equal(st.generation, 0);
    assert_int_equal(st.last_error, HTTPA_ERR_IO);
    assert_int_equal(st.next_attempt, T0 + 60);
    assert_int_equal(f->server->nkeys, 0);
    atomic_store(&f->clock.now, T0 + 59);
    httpa_keymgr_kick(m);
    atomic_store(&f->clock.now, T0 + 60);
    httpa_keymgr_kick(m);
    wait_failures(m, 2, &st);
    assert_int_equal(st.generation, 0);
    advance(f, m, T0 + 120, 1, true);
    httpa_keymgr_get_status(m, &st);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.last_error, HTTPA_OK);
    assert_int_equal(st.current.not_after, T0 + 120 + 3600);
    httpa_keymgr_stop(m);
}

static void on_event(void *arg, const httpa_keymgr_event *ev)
{
    atomic_uint *n = arg;
    if (ev->err == HTTPA_OK && strcmp(ev->tee, "sim") == 0)
        atomic_fetch_add(n, 1u);
}

static void test_ecdsa_and_events(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    httpa_keymgr_status st;
    atomic_uint events;
    atomic_init(&events, 0u);
    f->cfg.alg = HTTPA_ECDSA_P256_SHA256;
    f->cfg.on_event = on_event;
    f->cfg.event_arg = &events;
    assert_int_equal(httpa_keymgr_start(&f->cfg, &m), HTTPA_OK);
    assert_int_equal(httpa_keymgr_wait(m, 1, WAIT_MS), HTTPA_OK);
    httpa_keymgr_get_status(m, &st);
    assert_int_equal(st.current.pub_len, 65);
    assert_int_equal(st.current.pub[0], 0x04);
    assert_bound(f->server, &st, HTTPA_ECDSA_P256_SHA256, f->att.sim.pub);
    httpa_keymgr_stop(m);
    assert_int_equal(atomic_load(&events), 1);
}

static void *release_later(void *arg)
{
    sleep_ms(50);
    watched_release(arg);
    return NULL;
}

/* stop waits for an attempt in progress, then frees; nothing leaks. */
static void test_stop_during_quote(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    pthread_t t;
    f->att.hold = true;
    assert_int_equal(httpa_keymgr_start(&f->cfg, &m), HTTPA_OK);
    for (int i = 0; i < WAIT_MS && !atomic_load(&f->att.entered); i++)
        sleep_ms(1);
    assert_true(atomic_load(&f->att.entered));
    assert_int_equal(pthread_create(&t, NULL, release_later, &f->att), 0);
    httpa_keymgr_stop(m);
    pthread_join(t, NULL);
    assert_int_equal(f->att.quotes, 1);
}

static void test_bad_config(void **state)
{
    fx *f = *state;
    httpa_keymgr *m = NULL;
    httpa_keymgr_config c = f->cfg;
    c.lifetime = HTTPA_KEYMGR_MAX_LIFETIME + 1;
    assert_int_equal(httpa_keymgr_start(&c, &m), HTTPA_ERR_INVALID_ARG);
    c = f->cfg;
    c.rotate_interval = c.lifetime - HTTPA_KEYMGR_MIN_HEADROOM + 1;
    assert_int_equal(httpa_keymgr_start(&c, &m), HTTPA_ERR_INVALID_ARG);
    c = f->cfg;
    c.server = NULL;
    assert_int_equal(httpa_keymgr_start(&c, &m), HTTPA_ERR_INVALID_ARG);
    c = f->cfg;
    c.alg = (httpa_sig_alg)7;
    assert_int_equal(httpa_keymgr_start(&c, &m), HTTPA_ERR_INVALID_ARG);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_key_off_the_calling_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keeps_previous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
