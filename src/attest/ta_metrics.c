/* The TA's Prometheus metrics (text exposition format 0.0.4). Every label
 * value comes from a closed set (TEE tokens, verdicts, reason names), so the
 * number of series is bounded. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ta_int.h"

static const double BOUNDS[TA_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
static const char *const TEES[3] = {"sgx", "tdx", "sim"};

void ta_label(const char *name, char *out, size_t cap)
{
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < cap; i++) {
        char c = name[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == '-' ? '_' : c;
    }
    out[i] = '\0';
}

void ta_metrics_appraisal(ta_metrics *m, const char *tee, httpa_eat_verdict v, double seconds)
{
    for (size_t t = 0; t < 3; t++)
        if (strcmp(tee, TEES[t]) == 0 && (unsigned)v < 3)
            m->appraisals[t][v]++;
    for (size_t b = 0; b < TA_BUCKETS; b++)
        if (seconds <= BOUNDS[b])
            m->hist[b]++;
    m->hist_count++;
    m->hist_sum += seconds;
}

/* printf into the buffer; output is best effort (bounded and small). */
static void out_f(httpa_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_f(httpa_buf *o, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        /* a few KiB into a 1 MiB buffer: it cannot overflow */
        httpa_err e = httpa_buf_append(o, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)e;
    }
}

static void appraisals(const ta_metrics *m, httpa_buf *o)
{
    out_f(o, "# HELP httpa_ta_appraisals_total Appraisals that produced a signed result.\n"
             "# TYPE httpa_ta_appraisals_total counter\n");
    for (size_t t = 0; t < 3; t++)
        for (int v = 0; v < 3; v++)
            out_f(o, "httpa_ta_appraisals_total{tee=\"%s\",verdict=\"%s\"} %llu\n", TEES[t],
                  httpa_eat_verdict_name((httpa_eat_verdict)v),
                  (unsigned long long)m->appraisals[t][v]);
}

static void reason_line(httpa_buf *o, const char *name, uint64_t n)
{
    char label[64];
    if (n == 0)
        return;
    ta_label(name, label, sizeof(label));
    out_f(o, "httpa_ta_rejections_total{reason=\"%s\"} %llu\n", label, (unsigned long long)n);
}

/* Problems by type; evidence and policy rejections by their reason. */
static void rejections(const ta_metrics *m, httpa_buf *o)
{
    out_f(o, "# HELP httpa_ta_rejections_total Requests answered with a problem, and results "
             "contraindicated by the policy, by reason.\n"
             "# TYPE httpa_ta_rejections_total counter\n");
    for (int p = 0; p < HTTPA_TA_P__COUNT; p++)
        if (p != HTTPA_TA_P_EVIDENCE_REJECTED)
            reason_line(o, httpa_ta_problem_name((httpa_ta_problem)p), m->problems[p]);
    for (int r = 1; r < HTTPA_DCAP_REASON__COUNT; r++)
        reason_line(o, httpa_dcap_reason_name((httpa_dcap_reason)r), m->dcap[r]);
    for (int r = 1; r < HTTPA_POLICY_REASON__COUNT; r++)
        reason_line(o, httpa_policy_reason_name((httpa_policy_reason)r), m->policy[r]);
}

static void histogram(const ta_metrics *m, httpa_buf *o)
{
    out_f(o, "# HELP httpa_ta_appraisal_seconds Time to verify evidence, apply the policy and "
             "sign.\n# TYPE httpa_ta_appraisal_seconds histogram\n");
    for (size_t b = 0; b < TA_BUCKETS; b++)
        out_f(o, "httpa_ta_appraisal_seconds_bucket{le=\"%g\"} %llu\n", BOUNDS[b],
              (unsigned long long)m->hist[b]);
    out_f(o, "httpa_ta_appraisal_seconds_bucket{le=\"+Inf\"} %llu\n",
          (unsigned long long)m->hist_count);
    out_f(o, "httpa_ta_appraisal_seconds_sum %.6f\n", m->hist_sum);
    out_f(o, "httpa_ta_appraisal_seconds_count %llu\n", (unsigned long long)m->hist_count);
}

void ta_metrics_output(const ta_metrics *m, const ta_keys *keys, httpa_buf *o)
{
    appraisals(m, o);
    rejections(m, o);
    histogram(m, o);
    out_f(o, "# HELP httpa_ta_requests_total HTTP requests answered.\n"
             "# TYPE httpa_ta_requests_total counter\nhttpa_ta_requests_total %llu\n",
          (unsigned long long)m->requests);
    out_f(o, "# HELP httpa_ta_signing_keys Verification keys published in the JWKS.\n"
             "# TYPE httpa_ta_signing_keys gauge\nhttpa_ta_signing_keys %zu\n",
          ta_keys_published(keys));
    out_f(o, "# HELP httpa_ta_key_rotations_total Signing key rotations.\n"
             "# TYPE httpa_ta_key_rotations_total counter\nhttpa_ta_key_rotations_total %llu\n",
          (unsigned long long)keys->rotations);
}
