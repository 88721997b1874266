/* TESTS ONLY: see sched_pin.h. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "sched_pin.h"

int tl_current_cpu(void)
{
    int cpu = sched_getcpu();
    return cpu >= 0 ? cpu : 0;
}

int tl_pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

int tl_sched_idle(void)
{
    struct sched_param sp = {.sched_priority = 0};
    return pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 ? 0 : -1;
}
