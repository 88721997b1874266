/* The TA's signing keys and their rotation. With rotation the JWKS always
 * announces the next key one period before it signs anything, so a relying
 * party that refreshes its copy once per period never meets an unknown kid;
 * a retired key stays published until every token it signed has expired. */
#include <string.h>

#include "ta_int.h"

static ta_key *free_slot(ta_keys *ks)
{
    for (size_t i = 0; i < HTTPA_TA_MAX_KEYS; i++)
        if (!ks->k[i].used)
            return &ks->k[i];
    return NULL;
}

static ta_key *find_state(ta_keys *ks, ta_key_state st)
{
    for (size_t i = 0; i < HTTPA_TA_MAX_KEYS; i++)
        if (ks->k[i].used && ks->k[i].state == st)
            return &ks->k[i];
    return NULL;
}

static httpa_err add_key(ta_keys *ks, const httpa_eat_signer *copy, ta_key_state st)
{
    ta_key *k = free_slot(ks);
    if (k == NULL)
        return HTTPA_ERR_TOO_LARGE;
    httpa_err e = copy != NULL ? HTTPA_OK : httpa_eat_signer_init(&k->s, NULL, NULL);
    if (copy != NULL)
        k->s = *copy;
    if (e != HTTPA_OK)
        return e;
    k->used = true;
    k->state = st;
    k->created = 0;
    k->last_exp = 0;
    return HTTPA_OK;
}

httpa_err ta_keys_init(ta_keys *ks, const httpa_eat_signer *first, int64_t rotate, int64_t now)
{
    memset(ks, 0, sizeof(*ks));
    ks->rotate = rotate;
    httpa_err e = add_key(ks, first, TA_KEY_CURRENT);
    if (e == HTTPA_OK && rotate > 0)
        e = add_key(ks, NULL, TA_KEY_NEXT);
    if (e != HTTPA_OK) {
        ta_keys_clear(ks);
        return e;
    }
    ks->k[0].created = now;
    ks->current_since = now;
    return HTTPA_OK;
}

void ta_keys_clear(ta_keys *ks)
{
    for (size_t i = 0; i < HTTPA_TA_MAX_KEYS; i++)
        httpa_eat_signer_clear(&ks->k[i].s);
    memset(ks, 0, sizeof(*ks));
}

static void drop(ta_key *k)
{
    httpa_eat_signer_clear(&k->s);
    memset(k, 0, sizeof(*k));
}

/* current -> retired, next -> current, a new next. When the table is full
 * (a key of every past period still needed), the rotation waits. */
static void rotate_once(ta_keys *ks, int64_t now)
{
    ta_key *cur = find_state(ks, TA_KEY_CURRENT), *next = find_state(ks, TA_KEY_NEXT);
    if (cur == NULL || next == NULL || free_slot(ks) == NULL)
        return;
    cur->state = TA_KEY_RETIRED;
    next->state = TA_KEY_CURRENT;
    next->created = now;
    ks->current_since = now;
    ks->rotations++;
    if (add_key(ks, NULL, TA_KEY_NEXT) != HTTPA_OK) {
        /* no new next key: undo, keep signing with the old one */
        next->state = TA_KEY_NEXT;
        cur->state = TA_KEY_CURRENT;
        ks->rotations--;
    }
}

void ta_keys_tick(ta_keys *ks, int64_t now)
{
    for (size_t i = 0; i < HTTPA_TA_MAX_KEYS; i++) {
        ta_key *k = &ks->k[i];
        if (k->used && k->state == TA_KEY_RETIRED && now >= k->last_exp)
            drop(k);
    }
    if (ks->rotate > 0 && now - ks->current_since >= ks->rotate)
        rotate_once(ks, now);
}

ta_key *ta_keys_current(ta_keys *ks)
{
    return find_state(ks, TA_KEY_CURRENT);
}

size_t ta_keys_published(const ta_keys *ks)
{
    size_t n = 0;
    for (size_t i = 0; i < HTTPA_TA_MAX_KEYS; i++)
        n += ks->k[i].used;
    return n;
}

httpa_err ta_keys_jwks(const ta_keys *ks, httpa_buf *out)
{
    static const ta_key_state order[] = {TA_KEY_CURRENT, TA_KEY_NEXT, TA_KEY_RETIRED};
    bool first = true;
    httpa_err e = httpa_buf_append_str(out, "{\"keys\":[");
    for (size_t o = 0; o < 3; o++)
        for (size_t i = 0; e == HTTPA_OK && i < HTTPA_TA_MAX_KEYS; i++) {
            const ta_key *k = &ks->k[i];
            if (!k->used || k->state != order[o])
                continue;
            if (!first)
                e = httpa_buf_append_u8(out, ',');
            first = false;
            if (e == HTTPA_OK)
                e = httpa_eat_jwk_append(k->s.kid, k->s.pub, out);
        }
    return e == HTTPA_OK ? httpa_buf_append_str(out, "]}") : e;
}
