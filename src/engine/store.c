/* The server's Attest-Base store (store.h): a chained hash table of
 * reference-counted bases behind one mutex, and the Attest-Random replay
 * cache of profile 11.1.
 *
 * Locking: the store mutex guards the table, the counts, every base's `refs`
 * and `next`, and the replay cache. A base's own mutex guards its window,
 * counters, flags and secrets. The order is store lock, then base lock; no
 * code takes the store lock while it holds a base lock.
 *
 * Ended IDs: profile 15.2 says a server SHOULD remember ended IDs to answer
 * expired_base. This store does not keep tombstones: a base that expired
 * answers expired_base until a sweep removes it, and unknown_base afterwards;
 * a terminated base answers expired_base from the commit of the terminating
 * request until its transaction ends, and unknown_base afterwards. Both
 * tokens make the client run a new AtHS (the vector trt_after_termination
 * accepts both), the IDs are 122 random bits so "never reuse an ID while a
 * record of it exists" holds without a record, and tombstones would be
 * memory that an unauthenticated handshake flood could fill. */
#include <stdlib.h>
#include <string.h>

#include "engine/store.h"

enum {
    BUCKETS_FIRST = 64,
    BUCKETS_MAX = 1 << 20,
    RANDOM_FIRST = 1024,         /* replay cache slots, power of two */
    RANDOM_MAX = 1 << 22,        /* hard ceiling on replay cache slots */
    SWEEP_SLICE = 4096,          /* buckets or replay slots per hold of the lock */
};

typedef struct random_slot {
    uint8_t random[32];
    int64_t until;
    bool used;
} random_slot;

struct httpa_store {
    pthread_mutex_t lock;
    httpa_base **buckets;
    size_t nbuckets;             /* power of two */
    size_t count;
    size_t max_bases;
    random_slot *randoms;        /* open addressing, linear probing */
    size_t nrandoms;             /* power of two, or 0 before the first insert */
    size_t random_count;
    size_t random_max;           /* slot ceiling, from max_bases */
    int64_t full_swept_at;       /* when an insert into a full store last swept */
};

/* ---- bases ---- */

httpa_err httpa_base_new(httpa_base **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    httpa_base *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return HTTPA_ERR_NOMEM;
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b);
        return HTTPA_ERR_INTERNAL;
    }
    b->refs = 1;
    *out = b;
    return HTTPA_OK;
}

static void base_wipe_secrets(httpa_base *b)
{
    for (size_t i = 0; i < b->nsecrets; i++) {
        if (b->secret_names != NULL && b->secret_names[i] != NULL) {
            httpa_wipe(b->secret_names[i], strlen(b->secret_names[i]));
            free(b->secret_names[i]);
        }
        if (b->secret_values != NULL)
            httpa_buf_free(&b->secret_values[i]);
    }
    free(b->secret_names);
    free(b->secret_values);
    b->secret_names = NULL;
    b->secret_values = NULL;
    b->nsecrets = 0;
}

/* The last reference is gone: zeroize keys, window, secrets and the client
 * appraisal (profile 8.4, 15.2), then free. */
static void base_destroy(httpa_base *b)
{
    httpa_traffic_wipe(&b->c_ap);
    httpa_traffic_wipe(&b->s_ap);
    base_wipe_secrets(b);
    pthread_mutex_destroy(&b->lock);
    httpa_wipe(b, sizeof(*b));
    free(b);
}

/* ---- store ---- */

static size_t pow2_at_least(size_t n, size_t lo, size_t hi)
{
    size_t p = lo;
    while (p < n && p < hi)
        p <<= 1;
    return p;
}

httpa_err httpa_store_new(size_t max_bases, httpa_store **out)
{
    if (out == NULL || max_bases == 0)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    httpa_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return HTTPA_ERR_NOMEM;
    st->nbuckets = BUCKETS_FIRST;
    st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
    if (st->buckets == NULL) {
        free(st);
        return HTTPA_ERR_NOMEM;
    }
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st->buckets);
        free(st);
        return HTTPA_ERR_INTERNAL;
    }
    st->max_bases = max_bases;
    /* A live Attest-Random entry stands for a handshake of the last 240 s
     * (Attest-Date + 120, dates within 120 s of now). The cache may hold
     * three times the base capacity (3/4 of four times as many slots) before
     * it refuses new handshakes (503), so bases that end quickly do not make
     * it refuse first. */
    st->random_max = pow2_at_least(max_bases > SIZE_MAX / 4 ? SIZE_MAX / 4 : max_bases * 4,
                                   RANDOM_FIRST, RANDOM_MAX);
    *out = st;
    return HTTPA_OK;
}

void httpa_store_free(httpa_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->nbuckets; i++) {
        httpa_base *b = st->buckets[i];
        while (b != NULL) {
            httpa_base *next = b->next;
            base_destroy(b);
            b = next;
        }
    }
    free(st->buckets);
    free(st->randoms);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* FNV-1a over the id; ids are random, so nothing stronger is needed. */
static size_t id_hash(const char *id, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)id[i];
        h *= UINT64_C(0x100000001b3);
    }
    return (size_t)(h ^ (h >> 32));
}

static httpa_base **bucket_of(httpa_store *st, const char *id, size_t len)
{
    return &st->buckets[id_hash(id, len) & (st->nbuckets - 1)];
}

static httpa_base *find_locked(httpa_store *st, const char *id, size_t len)
{
    for (httpa_base *b = *bucket_of(st, id, len); b != NULL; b = b->next)
        if (len == HTTPA_BASE_ID_LEN && memcmp(b->id, id, len) == 0)
            return b;
    return NULL;
}

/* Double the bucket array when the chains get long; failure is harmless. */
static void grow_locked(httpa_store *st)
{
    if (st->count < st->nbuckets || st->nbuckets >= BUCKETS_MAX)
        return;
    size_t n = st->nbuckets * 2;
    httpa_base **nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    for (size_t i = 0; i < st->nbuckets; i++) {
        httpa_base *b = st->buckets[i];
        while (b != NULL) {
            httpa_base *next = b->next;
            size_t k = id_hash(b->id, HTTPA_BASE_ID_LEN) & (n - 1);
            b->next = nb[k];
            nb[k] = b;
            b = next;
        }
    }
    free(st->buckets);
    st->buckets = nb;
    st->nbuckets = n;
}

/* Unlink `b` if it is in the table; true when it was (the caller then owns
 * the store's reference). */
static bool unlink_locked(httpa_store *st, httpa_base *b)
{
    for (httpa_base **p = bucket_of(st, b->id, HTTPA_BASE_ID_LEN); *p != NULL; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            b->next = NULL;
            st->count--;
            return true;
        }
    }
    return false;
}

static bool base_expired(const httpa_base *b, int64_t now)
{
    return now >= b->expires_at;
}

/* Drop the store's reference of every expired base in buckets [from, to);
 * bases whose last reference went are chained on *dead for destruction
 * outside the lock. */
static size_t sweep_buckets_locked(httpa_store *st, size_t from, size_t to, int64_t now,
                                   httpa_base **dead)
{
    size_t removed = 0;
    for (size_t i = from; i < to && i < st->nbuckets; i++) {
        httpa_base **p = &st->buckets[i];
        while (*p != NULL) {
            httpa_base *b = *p;
            if (!base_expired(b, now)) {
                p = &b->next;
                continue;
            }
            *p = b->next;
            b->next = NULL;
            st->count--;
            removed++;
            if (--b->refs == 0) {
                b->next = *dead;
                *dead = b;
            }
        }
    }
    return removed;
}

static size_t sweep_locked(httpa_store *st, int64_t now, httpa_base **dead)
{
    return sweep_buckets_locked(st, 0, st->nbuckets, now, dead);
}

static void destroy_chain(httpa_base *dead)
{
    while (dead != NULL) {
        httpa_base *next = dead->next;
        base_destroy(dead);
        dead = next;
    }
}

httpa_err httpa_store_insert(httpa_store *st, httpa_base *b, int64_t now)
{
    if (st == NULL || b == NULL || strlen(b->id) != HTTPA_BASE_ID_LEN)
        return HTTPA_ERR_INVALID_ARG;
    httpa_base *dead = NULL;
    httpa_err e = HTTPA_OK;
    pthread_mutex_lock(&st->lock);
    /* A full store sweeps at most once a second (the clock's resolution):
     * otherwise every handshake refused during a flood would walk every
     * base under the lock. */
    if (st->count >= st->max_bases && now != st->full_swept_at) {
        sweep_locked(st, now, &dead);
        st->full_swept_at = now;
    }
    if (st->count >= st->max_bases) {
        e = HTTPA_ERR_INTERNAL; /* 503: no capacity (profile 6.2.2 step 11) */
    } else if (find_locked(st, b->id, HTTPA_BASE_ID_LEN) != NULL) {
        e = HTTPA_ERR_INTERNAL; /* an ID is never reused (15.2) */
    } else {
        httpa_base **head = bucket_of(st, b->id, HTTPA_BASE_ID_LEN);
        b->next = *head;
        *head = b;
        b->refs++;
        st->count++;
        grow_locked(st);
    }
    pthread_mutex_unlock(&st->lock);
    destroy_chain(dead);
    return e;
}

/* Under the store lock: may a new request use this base? */
static httpa_err usable_locked(httpa_base *b, int64_t now)
{
    if (base_expired(b, now))
        return HTTPA_ERR_EXPIRED_BASE;
    pthread_mutex_lock(&b->lock);
    bool ended = b->terminated || b->accepted >= HTTPA_MAX_REQUESTS;
    pthread_mutex_unlock(&b->lock);
    return ended ? HTTPA_ERR_EXPIRED_BASE : HTTPA_OK;
}

httpa_err httpa_store_get(httpa_store *st, const char *id, size_t len, int64_t now,
                          httpa_base **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (st == NULL || id == NULL)
        return HTTPA_ERR_INVALID_ARG;
    pthread_mutex_lock(&st->lock);
    httpa_base *b = find_locked(st, id, len);
    httpa_err e = b == NULL ? HTTPA_ERR_UNKNOWN_BASE : usable_locked(b, now);
    if (e == HTTPA_OK) {
        b->refs++;
        *out = b;
    }
    pthread_mutex_unlock(&st->lock);
    return e;
}

void httpa_store_put(httpa_store *st, httpa_base *b)
{
    if (st == NULL || b == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (last)
        base_destroy(b);
}

void httpa_store_remove(httpa_store *st, httpa_base *b)
{
    if (st == NULL || b == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    bool last = unlink_locked(st, b) && --b->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (last)
        base_destroy(b);
}

/* ---- Attest-Random replay cache ---- */

static size_t random_home(const uint8_t r[32], size_t n)
{
    uint64_t h;
    memcpy(&h, r, sizeof(h)); /* the value is random: its octets are the hash */
    return (size_t)(h ^ (h >> 29)) & (n - 1);
}

/* Rebuild into `n` slots, dropping entries whose time has passed. */
static httpa_err random_rehash_locked(httpa_store *st, size_t n, int64_t now)
{
    random_slot *ns = calloc(n, sizeof(*ns));
    if (ns == NULL)
        return HTTPA_ERR_NOMEM;
    size_t count = 0;
    for (size_t i = 0; i < st->nrandoms; i++) {
        random_slot *s = &st->randoms[i];
        if (!s->used || s->until < now)
            continue;
        size_t k = random_home(s->random, n);
        while (ns[k].used)
            k = (k + 1) & (n - 1);
        ns[k] = *s;
        count++;
    }
    free(st->randoms);
    st->randoms = ns;
    st->nrandoms = n;
    st->random_count = count;
    return HTTPA_OK;
}

/* Keep the load at most 3/4 before an insert: purge expired entries, then
 * grow up to the ceiling. A cache full of live entries refuses (503). */
static httpa_err random_make_room_locked(httpa_store *st, int64_t now)
{
    if (st->nrandoms != 0 && (st->random_count + 1) * 4 <= st->nrandoms * 3)
        return HTTPA_OK;
    size_t n = st->nrandoms == 0 ? RANDOM_FIRST : st->nrandoms;
    httpa_err e = random_rehash_locked(st, n, now);
    if (e != HTTPA_OK)
        return e;
    if ((st->random_count + 1) * 4 <= st->nrandoms * 3)
        return HTTPA_OK;
    if (st->nrandoms >= st->random_max)
        return HTTPA_ERR_INTERNAL;
    return random_rehash_locked(st, st->nrandoms * 2, now);
}

/* Empty slot i without breaking any probe sequence: move back each later
 * entry of the cluster whose home is not cyclically in (i, j] (backward
 * shift deletion for linear probing, Knuth's Algorithm R). */
static void random_delete_locked(httpa_store *st, size_t i)
{
    size_t mask = st->nrandoms - 1;
    for (size_t j = (i + 1) & mask; st->randoms[j].used; j = (j + 1) & mask) {
        size_t k = random_home(st->randoms[j].random, st->nrandoms);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            st->randoms[i] = st->randoms[j];
            i = j;
        }
    }
    memset(&st->randoms[i], 0, sizeof(st->randoms[i]));
    st->random_count--;
}

/* Delete the expired entries of slots [from, to). A slot that received a
 * moved entry is looked at again; an entry moved behind `from` waits for
 * the next sweep. */
static void random_purge_locked(httpa_store *st, size_t from, size_t to, int64_t now)
{
    for (size_t i = from; i < to && i < st->nrandoms;) {
        const random_slot *s = &st->randoms[i];
        if (s->used && s->until < now)
            random_delete_locked(st, i);
        else
            i++;
    }
}

/* The slot holding `r`, or the empty slot that ends its probe sequence. */
static random_slot *random_probe_locked(httpa_store *st, const uint8_t r[32])
{
    size_t k = random_home(r, st->nrandoms);
    while (st->randoms[k].used && memcmp(st->randoms[k].random, r, 32) != 0)
        k = (k + 1) & (st->nrandoms - 1);
    return &st->randoms[k];
}

/* Whether `r` is a live entry. */
static bool random_seen_locked(httpa_store *st, const uint8_t r[32], int64_t now)
{
    if (st->nrandoms == 0)
        return false;
    const random_slot *s = random_probe_locked(st, r);
    return s->used && s->until >= now;
}

httpa_err httpa_store_random_check(httpa_store *st, const uint8_t random[32], int64_t until,
                                   int64_t now, bool insert)
{
    if (st == NULL || random == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = HTTPA_OK;
    pthread_mutex_lock(&st->lock);
    if (random_seen_locked(st, random, now))
        e = HTTPA_ERR_REPLAY;
    else if (insert)
        e = random_make_room_locked(st, now);
    if (e == HTTPA_OK && insert) {
        /* Probe again: making room may have rebuilt the table. */
        random_slot *s = random_probe_locked(st, random);
        if (!s->used)
            st->random_count++;
        memcpy(s->random, random, 32);
        s->until = until;
        s->used = true;
    }
    pthread_mutex_unlock(&st->lock);
    return e;
}

/* ---- maintenance ---- */

/* In slices, releasing the lock between them: with hundreds of thousands
 * of bases or replay entries, one pass under the lock would stall every
 * request for tens of milliseconds. A table that grows meanwhile may have
 * entries skipped this time; the next sweep sees them. */
size_t httpa_store_sweep(httpa_store *st, int64_t now)
{
    if (st == NULL)
        return 0;
    size_t removed = 0;
    for (size_t i = 0;; i += SWEEP_SLICE) {
        httpa_base *dead = NULL;
        pthread_mutex_lock(&st->lock);
        bool more = i < st->nbuckets;
        if (more)
            removed += sweep_buckets_locked(st, i, i + SWEEP_SLICE, now, &dead);
        pthread_mutex_unlock(&st->lock);
        destroy_chain(dead);
        if (!more)
            break;
    }
    for (size_t i = 0;; i += SWEEP_SLICE) {
        pthread_mutex_lock(&st->lock);
        bool more = i < st->nrandoms;
        if (more)
            random_purge_locked(st, i, i + SWEEP_SLICE, now);
        pthread_mutex_unlock(&st->lock);
        if (!more)
            break;
    }
    return removed;
}

size_t httpa_store_count(httpa_store *st)
{
    if (st == NULL)
        return 0;
    pthread_mutex_lock(&st->lock);
    size_t n = st->count;
    pthread_mutex_unlock(&st->lock);
    return n;
}
