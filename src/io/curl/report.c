/* What the client tells its caller: verbose lines (curl's and its own "A"
 * lines), the record of every evidence entry of a handshake, and the local
 * policy hook around the configured verifier. Nothing here prints a key, a
 * secret, a sealed value or body plaintext. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "httpa/crypto.h"
#include "httpa/eat.h"
#include "httpa/sf.h"
#include "internal.h"

void cl_copy(char *dst, size_t n, const char *src, size_t len)
{
    if (n == 0)
        return;
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void cl_fmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap); /* cut to n: messages are bounded on purpose */
    va_end(ap);
}

bool cl_verbose(const httpa_curl_client *c)
{
    return c->cfg.debug != NULL;
}

void cl_say(const httpa_curl_client *c, httpa_curl_info kind, const char *fmt, ...)
{
    if (c->cfg.debug == NULL)
        return;
    char line[CL_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    c->cfg.debug(c->cfg.debug_arg, kind, line, len);
}

int cl_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    const httpa_curl_client *c = arg;
    httpa_curl_info kind;
    (void)h;
    switch (type) {
    case CURLINFO_TEXT:
        kind = HTTPA_CURL_INFO_TEXT;
        break;
    case CURLINFO_HEADER_IN:
        kind = HTTPA_CURL_INFO_HEADER_IN;
        break;
    case CURLINFO_HEADER_OUT:
        kind = HTTPA_CURL_INFO_HEADER_OUT;
        break;
    default:
        return 0; /* content, TLS records: never shown */
    }
    while (size != 0) {
        const char *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        size_t k = len;
        if (k != 0 && data[k - 1] == '\r')
            k--;
        if (k != 0)
            c->cfg.debug(c->cfg.debug_arg, kind, data, k);
        if (nl == NULL)
            break;
        size -= len + 1;
        data += len + 1;
    }
    return 0;
}

const char *cl_field(const httpa_msg *m, const char *name, size_t *n)
{
    const httpa_header *h = httpa_msg_find(m, name, strlen(name));
    if (h == NULL)
        return NULL;
    const char *v = h->value;
    size_t len = h->value_len;
    while (len != 0 && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len != 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (n != NULL)
        *n = len;
    return v;
}

/* ---- the recording verifier ---- */

static httpa_curl_evidence *slot_for(httpa_curl_attestation *att, const char *tee,
                                     const char *format)
{
    for (size_t i = 0; i < att->nevidence; i++) {
        httpa_curl_evidence *ev = &att->evidence[i];
        if (!ev->appraised && strcmp(ev->tee, tee) == 0 && strcmp(ev->format, format) == 0)
            return ev;
    }
    if (att->nevidence == HTTPA_CURL_MAX_EVIDENCE)
        return NULL;
    httpa_curl_evidence *ev = &att->evidence[att->nevidence++];
    memset(ev, 0, sizeof(*ev));
    cl_copy(ev->tee, sizeof(ev->tee), tee, strlen(tee));
    cl_copy(ev->format, sizeof(ev->format), format, strlen(format));
    return ev;
}

/* The Attest-Quotes list of the response (NULL when absent or malformed:
 * the engine reports that). */
static httpa_sf_value *quotes_of(const httpa_msg *resp)
{
    httpa_buf v;
    bool found = false;
    httpa_sf_value *sf = NULL;
    httpa_buf_init(&v, 256 * 1024);
    if (resp == NULL ||
        httpa_msg_combine(resp, "attest-quotes", 13, &v, &found) != HTTPA_OK || !found ||
        httpa_sf_parse(HTTPA_SF_LIST, (const char *)v.base, v.len, NULL, &sf) != HTTPA_OK)
        sf = NULL;
    httpa_buf_free(&v);
    return sf;
}

static bool is_raw_of(const httpa_sf_member *m, const char *tee)
{
    const httpa_sf_param *f = httpa_sf_param_find(m->params, m->nparams, "format");
    return m->is_inner && m->ninner == 2 && m->inner[0].bare.type == HTTPA_SF_TOKEN &&
           m->inner[1].bare.type == HTTPA_SF_BINARY && m->inner[0].bare.len == strlen(tee) &&
           memcmp(m->inner[0].bare.bytes, tee, m->inner[0].bare.len) == 0 && f != NULL &&
           f->value.type == HTTPA_SF_TOKEN && f->value.len == 3 &&
           memcmp(f->value.bytes, "raw", 3) == 0;
}

/* Profile 7.7 rule 4: a verified stapled token must be about the raw
 * evidence of the same TEE when the response carries such an entry (any
 * of them, when there are several instances). */
static httpa_err stapled_matches_raw(const httpa_msg *resp, const char *tee, httpa_span token)
{
    uint8_t want[32], h[32];
    bool any_raw = false, match = false;
    if (httpa_eat_peek_evidence_sha256(token, want) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    httpa_sf_value *sf = quotes_of(resp);
    for (size_t i = 0; sf != NULL && i < sf->nmembers && !match; i++) {
        const httpa_sf_member *m = &sf->members[i];
        if (!is_raw_of(m, tee))
            continue;
        any_raw = true;
        match = httpa_hash(HTTPA_SHA256, HTTPA_SPAN(m->inner[1].bare.bytes, m->inner[1].bare.len),
                           h) == HTTPA_OK && httpa_ct_equal(h, want, 32);
    }
    httpa_sf_free(sf);
    return !any_raw || match ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
}

static httpa_err rec_appraise(httpa_verifier *self, const char *tee, const char *format,
                              httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    cl_recorder *r = (cl_recorder *)self;
    const httpa_curl_config *cfg = &r->c->cfg;
    httpa_verifier *inner = cfg->engine.verifier;
    char why[128] = "";
    httpa_err e = inner->appraise(inner, tee, format, evidence, now, out);
    if (e == HTTPA_OK && strcmp(format, "eat") == 0 &&
        stapled_matches_raw(r->resp, tee, evidence) != HTTPA_OK) {
        e = HTTPA_ERR_BAD_QUOTE;
        cl_fmt(why, sizeof(why), "the stapled token is about other evidence than the raw %s "
                                 "entry (httpa2_evidence_sha256)", tee);
    }
    if (e == HTTPA_OK && cfg->policy != NULL) {
        e = cfg->policy(cfg->policy_arg, tee, format, evidence, out, now, why, sizeof(why));
        why[sizeof(why) - 1] = '\0';
        if (e != HTTPA_OK)
            e = HTTPA_ERR_POLICY_VIOLATION; /* a policy only accepts or rejects */
    }
    if (e == HTTPA_ERR_POLICY_VIOLATION) {
        r->policy_rejected = true;
        if (r->why[0] == '\0')
            cl_fmt(r->why, sizeof(r->why), "%s/%s: %s", tee, format,
                   why[0] ? why : "rejected by the verifier's policy");
    }
    httpa_curl_evidence *ev = slot_for(r->att, tee, format);
    if (ev != NULL) {
        ev->appraised = true;
        ev->result = e;
        cl_copy(ev->why, sizeof(ev->why), why, strlen(why));
        if (e == HTTPA_OK)
            ev->appraisal = *out;
    }
    return e;
}

void cl_recorder_init(cl_recorder *r, const httpa_curl_client *c, httpa_curl_attestation *att)
{
    memset(r, 0, sizeof(*r));
    r->base.appraise = rec_appraise;
    r->c = c;
    r->att = att;
}

/* ---- the handshake's account ---- */

static void offered_entries(httpa_curl_attestation *att, const httpa_msg *resp)
{
    httpa_buf v;
    bool found = false;
    httpa_sf_value *sf = NULL;
    httpa_buf_init(&v, 256 * 1024);
    if (httpa_msg_combine(resp, "attest-quotes", 13, &v, &found) != HTTPA_OK || !found ||
        httpa_sf_parse(HTTPA_SF_LIST, (const char *)v.base, v.len, NULL, &sf) != HTTPA_OK) {
        httpa_buf_free(&v);
        return; /* the engine reports the malformation */
    }
    for (size_t i = 0; i < sf->nmembers && att->nevidence < HTTPA_CURL_MAX_EVIDENCE; i++) {
        const httpa_sf_member *m = &sf->members[i];
        if (!m->is_inner || m->ninner == 0 || m->inner[0].bare.type != HTTPA_SF_TOKEN)
            continue;
        const httpa_sf_param *f = httpa_sf_param_find(m->params, m->nparams, "format");
        httpa_curl_evidence *ev = &att->evidence[att->nevidence++];
        memset(ev, 0, sizeof(*ev));
        cl_copy(ev->tee, sizeof(ev->tee), (const char *)m->inner[0].bare.bytes,
                m->inner[0].bare.len);
        if (f != NULL && f->value.type == HTTPA_SF_TOKEN)
            cl_copy(ev->format, sizeof(ev->format), (const char *)f->value.bytes, f->value.len);
    }
    httpa_sf_free(sf);
    httpa_buf_free(&v);
}

void cl_att_offered(httpa_curl_attestation *att, const httpa_msg *resp, int64_t sent)
{
    size_t n;
    const char *v;
    att->valid = true;
    offered_entries(att, resp);
    cl_copy(att->mode, sizeof(att->mode), "fresh", 5);
    if (httpa_msg_find(resp, "attest-signature", 16) != NULL)
        cl_copy(att->mode, sizeof(att->mode), "attested-key", 12);
    if ((v = cl_field(resp, "attest-expires", &n)) != NULL) {
        long long secs = 0;
        for (size_t i = 0; i < n && i < 12 && v[i] >= '0' && v[i] <= '9'; i++)
            secs = secs * 10 + (v[i] - '0');
        att->expires_at = sent + secs;
    }
}

void cl_att_established(httpa_curl_attestation *att, const httpa_client_base *b)
{
    const char *id = httpa_client_base_id(b), *suite = httpa_client_base_suite(b);
    cl_copy(att->base_id, sizeof(att->base_id), id, strlen(id));
    cl_copy(att->suite, sizeof(att->suite), suite, strlen(suite));
    att->appraisal = *httpa_client_base_appraisal(b);
}

static void hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < cap; i++) {
        out[k++] = digits[p[i] >> 4];
        out[k++] = digits[p[i] & 15];
    }
    out[k] = '\0';
}

static void report_entry(const httpa_curl_client *c, const httpa_curl_evidence *ev)
{
    const char *tee = ev->tee, *fmt = ev->format[0] ? ev->format : "?";
    if (!ev->appraised)
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "evidence %s/%s: not appraised", tee, fmt);
    else if (ev->result == HTTPA_ERR_UNSUPPORTED)
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "evidence %s/%s: no verifier for it: ignored", tee, fmt);
    else if (ev->result != HTTPA_OK)
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "evidence %s/%s: REJECTED (%s)%s%s", tee, fmt,
               httpa_err_token(ev->result) ? httpa_err_token(ev->result)
                                           : httpa_err_name(ev->result),
               ev->why[0] ? ": " : "", ev->why);
    else
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "evidence %s/%s: accepted%s", tee, fmt,
               ev->appraisal.simulated ? " -- SIMULATED TEE: proves nothing about hardware" : "");
}

static void report_tee(const httpa_curl_client *c, const httpa_curl_attestation *att)
{
    const httpa_appraisal *a = &att->appraisal;
    char m[2 * sizeof(a->measurement) + 1], rd[2 * HTTPA_REPORT_DATA_LEN + 1];
    const char *tee = "?";
    for (size_t i = 0; i < att->nevidence; i++)
        if (att->evidence[i].appraised && att->evidence[i].result == HTTPA_OK) {
            tee = att->evidence[i].tee;
            break;
        }
    hex(m, sizeof(m), a->measurement, a->measurement_len);
    hex(rd, sizeof(rd), a->report_data, HTTPA_REPORT_DATA_LEN);
    cl_say(c, HTTPA_CURL_INFO_ATTEST, "TEE: %s%s, TCB status: %s, debug: %s", tee,
           a->simulated ? " (SIMULATED)" : "", a->tcb_status[0] ? a->tcb_status : "n/a",
           a->debug ? "YES" : "no");
    cl_say(c, HTTPA_CURL_INFO_ATTEST, "measurement: %s", m);
    cl_say(c, HTTPA_CURL_INFO_ATTEST, "report_data: %s", rd);
}

void cl_att_report(const httpa_curl_client *c, const httpa_curl_attestation *att, httpa_err e)
{
    if (!cl_verbose(c))
        return;
    if (att->nevidence == 0)
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "no evidence entry in the response");
    for (size_t i = 0; i < att->nevidence; i++)
        report_entry(c, &att->evidence[i]);
    if (e != HTTPA_OK) {
        cl_say(c, HTTPA_CURL_INFO_ATTEST, "handshake FAILED: %s: %s",
               httpa_err_token(e) ? httpa_err_token(e) : httpa_err_name(e), httpa_strerror(e));
        return;
    }
    report_tee(c, att);
    cl_say(c, HTTPA_CURL_INFO_ATTEST, "mode: %s, suite: %s", att->mode, att->suite);
    cl_say(c, HTTPA_CURL_INFO_ATTEST, "Attest Base %s established (evidence, %s and binder "
                                      "verified), expires in %lld s",
           att->base_id, strcmp(att->mode, "fresh") == 0 ? "freshness" : "signature",
           (long long)(att->expires_at - (int64_t)time(NULL)));
}
