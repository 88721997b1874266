/* The access log: one JSON object per request and line. It holds the outer
 * method and target (what every middlebox sees too), the status, the
 * Attest-Base-ID, sizes, duration, the transaction kind and the error token.
 * Never a header value besides the Base-ID, a body or a secret. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"

/* Append s as JSON string content; control characters and non-ASCII octets
 * are escaped so a hostile target cannot break the line. */
static size_t put_escaped(char *out, size_t cap, size_t pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0' && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(out + pos, "\\u00", 4);
            out[pos + 4] = hex[c >> 4];
            out[pos + 5] = hex[c & 15];
            pos += 6;
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put_raw(char *out, size_t cap, size_t pos, const char *s)
{
    size_t n = strlen(s);
    if (pos + n >= cap)
        n = cap - pos - 1;
    memcpy(out + pos, s, n);
    return pos + n;
}

static size_t put_field(char *out, size_t cap, size_t pos, const char *name, const char *value)
{
    pos = put_raw(out, cap, pos, name);
    if (value == NULL)
        return put_raw(out, cap, pos, "null");
    pos = put_raw(out, cap, pos, "\"");
    pos = put_escaped(out, cap, pos, value);
    return put_raw(out, cap, pos, "\"");
}

static const char *kind_name(httpa_txn_kind k)
{
    switch (k) {
    case HTTPA_TXN_PLAIN: return "plain";
    case HTTPA_TXN_PREFLIGHT: return "preflight";
    case HTTPA_TXN_ATHS: return "aths";
    case HTTPA_TXN_ATSP: return "atsp";
    case HTTPA_TXN_TRT: return "trt";
    case HTTPA_TXN_UTR: return "utr";
    case HTTPA_TXN_INVALID: return "invalid";
    }
    return "unknown";
}

void hx_log(const httpa_h2o_exchange *x)
{
    FILE *f = x->h->cfg.access_log;
    char line[4096], num[192];
    struct timespec now, wall;
    size_t pos = 0;

    if (f == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    clock_gettime(CLOCK_REALTIME, &wall);
    double ms = (double)(now.tv_sec - x->t0.tv_sec) * 1e3 + (double)(now.tv_nsec - x->t0.tv_nsec) / 1e6;
    snprintf(num, sizeof(num), "{\"ts\":%lld.%03ld,\"event\":\"access\"",
             (long long)wall.tv_sec, wall.tv_nsec / 1000000);
    pos = put_raw(line, sizeof(line), pos, num);
    pos = put_field(line, sizeof(line), pos, ",\"method\":", x->method);
    pos = put_field(line, sizeof(line), pos, ",\"target\":", x->target);
    snprintf(num, sizeof(num), ",\"status\":%d", x->final_sent || x->status ? x->status : 0);
    pos = put_raw(line, sizeof(line), pos, num);
    pos = put_field(line, sizeof(line), pos, ",\"base_id\":", x->base_id[0] ? x->base_id : NULL);
    pos = put_field(line, sizeof(line), pos, ",\"kind\":", kind_name(x->kind));
    pos = put_field(line, sizeof(line), pos, ",\"error\":", x->err_token);
    snprintf(num, sizeof(num), ",\"req_body\":%" PRIu64 ",\"resp_body\":%" PRIu64
             ",\"duration_ms\":%.3f,\"aborted\":%s", x->body_in, x->body_out, ms,
             x->failed || !x->final_sent ? "true" : "false");
    pos = put_raw(line, sizeof(line), pos, num);
    pos = put_field(line, sizeof(line), pos, ",\"upstream_error\":", x->up_error);
    pos = put_raw(line, sizeof(line), pos, "}\n");
    line[pos] = '\0';
    fputs(line, f); /* one call per line: stdio keeps lines whole across threads */
    fflush(f);
}
