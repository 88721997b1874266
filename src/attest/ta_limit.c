/* A token bucket per peer address: `burst` requests at once, refilled at
 * `rate` per second. A bounded table; when it is full, the peer seen least
 * recently gives its place (a forgotten peer starts with a full bucket,
 * which is what it would have by now in most cases). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta_int.h"

httpa_err ta_limiter_init(ta_limiter *l, double rate, double burst, size_t peers)
{
    memset(l, 0, sizeof(*l));
    if (!(rate >= 0) || !(burst >= 0) || rate > 1e9 || burst > 1e9)
        return HTTPA_ERR_INVALID_ARG;
    l->rate = rate;
    l->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
    l->n = peers != 0 ? peers : TA_DEFAULT_PEERS;
    if (rate == 0)
        return HTTPA_OK;
    l->b = calloc(l->n, sizeof(*l->b));
    return l->b != NULL ? HTTPA_OK : HTTPA_ERR_NOMEM;
}

void ta_limiter_free(ta_limiter *l)
{
    free(l->b);
    memset(l, 0, sizeof(*l));
}

static ta_bucket *bucket_for(ta_limiter *l, const char *peer, double mono)
{
    ta_bucket *oldest = &l->b[0];
    for (size_t i = 0; i < l->n; i++) {
        ta_bucket *b = &l->b[i];
        if (!b->used) {
            oldest = b;
            break;
        }
        if (strcmp(b->peer, peer) == 0)
            return b;
        if (b->last < oldest->last)
            oldest = b;
    }
    /* a new peer, or the least recently seen one's place */
    snprintf(oldest->peer, sizeof(oldest->peer), "%s", peer);
    oldest->used = true;
    oldest->tokens = l->burst;
    oldest->last = mono;
    return oldest;
}

bool ta_limiter_take(ta_limiter *l, const char *peer, double mono, int64_t *retry_after)
{
    *retry_after = 0;
    if (l->rate == 0 || l->b == NULL)
        return true;
    ta_bucket *b = bucket_for(l, peer != NULL ? peer : "", mono);
    if (mono > b->last) {
        b->tokens += (mono - b->last) * l->rate;
        if (b->tokens > l->burst)
            b->tokens = l->burst;
    }
    b->last = mono;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    double wait = (1 - b->tokens) / l->rate;
    *retry_after = (int64_t)wait;
    if ((double)*retry_after < wait)
        (*retry_after)++;
    if (*retry_after < 1)
        *retry_after = 1;
    return false;
}
