/* TESTS ONLY: CPU affinity and SCHED_IDLE for the calling thread, for tests
 * that need one thread of theirs to run before a child process resumes
 * (an ordinary thread that wakes up on a CPU preempts a SCHED_IDLE one at
 * once). Children inherit both across fork and exec. 0 or -1 (errno). */
#ifndef HTTPA_TESTLIB_SCHED_PIN_H
#define HTTPA_TESTLIB_SCHED_PIN_H

/* The CPU the calling thread runs on (0 when unknown). */
int tl_current_cpu(void);
/* Pin the calling thread to `cpu`. */
int tl_pin_cpu(int cpu);
/* Make the calling thread SCHED_IDLE (cannot be undone without privilege). */
int tl_sched_idle(void);

#endif
