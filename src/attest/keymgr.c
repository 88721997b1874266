/* The attested-key manager: one background thread makes a key, asks the
 * attester for evidence over its report_data, installs both in the server,
 * and sleeps (on a condition variable, so kick and stop wake it) until the
 * next rotation is due by the configured clock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpa/keymgr.h"

#define DEFAULT_RETRY 30
#define DEFAULT_POLL_MS 1000
#define EVIDENCE_MAX (128 * 1024)

struct httpa_keymgr {
    httpa_keymgr_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* the thread waits here: kick, stop */
    pthread_cond_t changed; /* httpa_keymgr_wait waits here */
    bool stop, kicked;
    httpa_keymgr_status st;
};

/* One attempt's outcome, applied to the status under the lock. */
typedef struct attempt {
    httpa_err err;
    uint8_t pub[HTTPA_SIG_MAX_PUB];
    size_t pub_len;
    int64_t not_after;
    bool stapled;
    bool staple_failed; /* a staple callback was set and did not staple */
} attempt;

static int64_t system_clock(void *arg)
{
    (void)arg;
    return (int64_t)time(NULL);
}

static int64_t now_of(const httpa_keymgr *m)
{
    return m->cfg.clock(m->cfg.clock_arg);
}

/* The raw entry, and the stapled token after it when the callback made one. */
static httpa_err install(const httpa_keymgr_config *c, httpa_sign_key *key, httpa_span ev,
                         const uint8_t rd[HTTPA_REPORT_DATA_LEN], attempt *a)
{
    httpa_span pub = HTTPA_SPAN(a->pub, a->pub_len);
    httpa_key_evidence kev[2] = {{c->attester->tee, "raw", ev}, {c->attester->tee, "eat", {0}}};
    httpa_buf token;
    httpa_buf_init(&token, EVIDENCE_MAX);
    if (c->staple != NULL) {
        httpa_err se = c->staple(c->staple_arg, c->attester->tee, ev, rd, &token);
        a->stapled = se == HTTPA_OK && token.len != 0;
        a->staple_failed = !a->stapled;
        kev[1].evidence = httpa_buf_span(&token);
    }
    httpa_err e = httpa_server_add_key(c->server, c->alg, key, pub, a->not_after, kev,
                                       a->stapled ? 2 : 1);
    httpa_buf_free(&token);
    return e;
}

/* Evidence over the key's report_data, installed with the key (the server
 * owns `key` from httpa_server_add_key on, whatever it returns). */
static httpa_err attest_and_install(const httpa_keymgr_config *c, httpa_sign_key *key,
                                    attempt *a)
{
    uint8_t rd[HTTPA_REPORT_DATA_LEN];
    httpa_span pub = HTTPA_SPAN(a->pub, a->pub_len);
    httpa_buf ev;
    httpa_buf_init(&ev, EVIDENCE_MAX);
    httpa_err e = httpa_attested_key_report_data(c->alg, pub, a->not_after, rd);
    if (e == HTTPA_OK)
        e = c->attester->quote(c->attester, rd, &ev);
    if (e == HTTPA_OK && ev.len == 0)
        e = HTTPA_ERR_INTERNAL;
    if (e != HTTPA_OK) {
        httpa_sign_key_free(key);
    } else {
        e = install(c, key, httpa_buf_span(&ev), rd, a);
    }
    httpa_buf_free(&ev);
    return e;
}

static void make_key(const httpa_keymgr_config *c, int64_t now, attempt *a)
{
    httpa_sign_key *key = NULL;
    memset(a, 0, sizeof(*a));
    a->pub_len = httpa_sig_pub_len(c->alg);
    a->not_after = now + c->lifetime;
    a->err = httpa_sign_key_new(c->alg, NULL, 0, a->pub, &key);
    if (a->err == HTTPA_OK)
        a->err = attest_and_install(c, key, a);
}

/* Under the lock. */
static void apply(httpa_keymgr *m, const attempt *a, int64_t now)
{
    httpa_keymgr_status *s = &m->st;
    s->last_error = a->err;
    if (a->err != HTTPA_OK) {
        s->failures++;
        s->next_attempt = now + m->cfg.retry_interval;
        return;
    }
    s->previous = s->current;
    s->current.set = true;
    memcpy(s->current.pub, a->pub, a->pub_len);
    s->current.pub_len = a->pub_len;
    s->current.not_after = a->not_after;
    s->generation++;
    s->failures = 0;
    s->next_attempt = now + (a->staple_failed && m->cfg.retry_interval < m->cfg.rotate_interval
                                 ? m->cfg.retry_interval
                                 : m->cfg.rotate_interval);
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* One attempt outside the lock (a quote is slow), then its event. */
static void rotate(httpa_keymgr *m, int64_t now)
{
    attempt a;
    pthread_mutex_unlock(&m->mu);
    make_key(&m->cfg, now, &a);
    pthread_mutex_lock(&m->mu);
    apply(m, &a, now);
    httpa_keymgr_event ev = {a.err, m->st.generation, a.not_after, m->cfg.attester->tee,
                             a.stapled};
    pthread_cond_broadcast(&m->changed);
    if (m->cfg.on_event != NULL) {
        pthread_mutex_unlock(&m->mu);
        m->cfg.on_event(m->cfg.event_arg, &ev);
        pthread_mutex_lock(&m->mu);
    }
}

static void *run(void *arg)
{
    httpa_keymgr *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        int64_t now = now_of(m);
        if (now >= m->st.next_attempt) {
            rotate(m, now);
            continue;
        }
        struct timespec ts;
        deadline_in(&ts, m->cfg.poll_ms);
        while (!m->stop && !m->kicked)
            if (pthread_cond_timedwait(&m->wake, &m->mu, &ts) != 0)
                break; /* the poll interval passed */
        m->kicked = false;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static httpa_err check_config(httpa_keymgr_config *c)
{
    if (c->server == NULL || c->attester == NULL || c->attester->quote == NULL
        || c->attester->tee == NULL || httpa_sig_pub_len(c->alg) == 0)
        return HTTPA_ERR_INVALID_ARG;
    if (c->lifetime == 0)
        c->lifetime = HTTPA_KEYMGR_DEFAULT_LIFETIME;
    if (c->rotate_interval == 0)
        c->rotate_interval = c->lifetime / 2;
    if (c->retry_interval == 0)
        c->retry_interval = DEFAULT_RETRY;
    if (c->poll_ms == 0)
        c->poll_ms = DEFAULT_POLL_MS;
    if (c->clock == NULL)
        c->clock = system_clock;
    if (c->lifetime <= HTTPA_KEYMGR_MIN_HEADROOM || c->lifetime > HTTPA_KEYMGR_MAX_LIFETIME
        || c->rotate_interval <= 0 || c->rotate_interval > c->lifetime - HTTPA_KEYMGR_MIN_HEADROOM
        || c->retry_interval <= 0)
        return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

static httpa_err init_sync(httpa_keymgr *m)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return HTTPA_ERR_NOMEM;
    bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    bool mu = ok && pthread_mutex_init(&m->mu, NULL) == 0;
    bool wake = mu && pthread_cond_init(&m->wake, &ca) == 0;
    bool changed = wake && pthread_cond_init(&m->changed, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (changed)
        return HTTPA_OK;
    if (wake)
        pthread_cond_destroy(&m->wake);
    if (mu)
        pthread_mutex_destroy(&m->mu);
    return HTTPA_ERR_NOMEM;
}

static void destroy_sync(httpa_keymgr *m)
{
    pthread_cond_destroy(&m->changed);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->mu);
}

httpa_err httpa_keymgr_start(const httpa_keymgr_config *cfg, httpa_keymgr **out)
{
    if (cfg == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    httpa_keymgr_config c = *cfg;
    httpa_err e = check_config(&c);
    if (e != HTTPA_OK)
        return e;
    httpa_keymgr *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return HTTPA_ERR_NOMEM;
    m->cfg = c;
    m->st.next_attempt = INT64_MIN; /* the first key at once */
    e = init_sync(m);
    if (e == HTTPA_OK && pthread_create(&m->thread, NULL, run, m) != 0) {
        destroy_sync(m);
        e = HTTPA_ERR_NOMEM;
    }
    if (e != HTTPA_OK) {
        free(m);
        return e;
    }
    *out = m;
    return HTTPA_OK;
}

httpa_err httpa_keymgr_wait(httpa_keymgr *m, uint64_t generation, unsigned timeout_ms)
{
    struct timespec ts;
    if (m == NULL)
        return HTTPA_ERR_INVALID_ARG;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&m->mu);
    while (m->st.generation < generation)
        if (pthread_cond_timedwait(&m->changed, &m->mu, &ts) != 0)
            break;
    httpa_err e = m->st.generation >= generation ? HTTPA_OK : HTTPA_ERR_BAD_STATE;
    pthread_mutex_unlock(&m->mu);
    return e;
}

void httpa_keymgr_kick(httpa_keymgr *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->kicked = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
}

void httpa_keymgr_get_status(httpa_keymgr *m, httpa_keymgr_status *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->st;
    pthread_mutex_unlock(&m->mu);
}

void httpa_keymgr_stop(httpa_keymgr *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    destroy_sync(m);
    free(m);
}
