/* The sliding replay window of profile 11.2, W = 128 bits in two words:
 * bits[0] holds distances 0..63, bits[1] distances 64..127. */
#include "engine/window.h"

static bool bit_get(const httpa_window *w, uint64_t d)
{
    return (w->bits[d / 64] >> (d % 64)) & 1u;
}

static void bit_set(httpa_window *w, uint64_t d)
{
    w->bits[d / 64] |= UINT64_C(1) << (d % 64);
}

/* Shift the bitmap towards larger distances by s >= 1, dropping bits that
 * reach W; never shifts a word by 64 or more. */
static void shift_left(httpa_window *w, uint64_t s)
{
    if (s >= HTTPA_WINDOW) {
        w->bits[0] = w->bits[1] = 0;
    } else if (s >= 64) {
        w->bits[1] = s == 64 ? w->bits[0] : w->bits[0] << (s - 64);
        w->bits[0] = 0;
    } else if (s > 0) {
        w->bits[1] = (w->bits[1] << s) | (w->bits[0] >> (64 - s));
        w->bits[0] <<= s;
    }
}

bool httpa_window_fresh(const httpa_window *w, uint64_t seq)
{
    if (!w->any || seq > w->max_seq)
        return true;
    uint64_t d = w->max_seq - seq;
    return d < HTTPA_WINDOW && !bit_get(w, d);
}

void httpa_window_commit(httpa_window *w, uint64_t seq)
{
    if (!w->any) {
        w->any = true;
        w->max_seq = seq;
        w->bits[0] = 1;
        w->bits[1] = 0;
    } else if (seq > w->max_seq) {
        shift_left(w, seq - w->max_seq);
        bit_set(w, 0);
        w->max_seq = seq;
    } else if (w->max_seq - seq < HTTPA_WINDOW) {
        bit_set(w, w->max_seq - seq);
    }
}
