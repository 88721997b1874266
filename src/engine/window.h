/* The sliding replay window of profile 11.2 (W = 128). fresh() is read-only;
 * only commit() changes state, and only after a MAC verified. */
#ifndef HTTPA_ENGINE_WINDOW_H
#define HTTPA_ENGINE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define HTTPA_WINDOW 128

typedef struct httpa_window {
    uint64_t max_seq;
    uint64_t bits[HTTPA_WINDOW / 64]; /* bit d set: max_seq - d accepted */
    bool any;
} httpa_window;

bool httpa_window_fresh(const httpa_window *w, uint64_t seq);
void httpa_window_commit(httpa_window *w, uint64_t seq);

#endif
