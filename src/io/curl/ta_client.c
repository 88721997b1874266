/* The Trusted Authority's client side over libcurl: fetching a token for
 * evidence (passport model) and the background-check verifier. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "httpa/crypto.h"
#include "httpa/eat.h"
#include "internal.h"

#define TA_RESP_MAX (256 * 1024)
#define TA_DEFAULT_TIMEOUT_MS 10000
#define TA_WHY_MAX 256
#define TA_EVIDENCE_MAX (64 * 1024)

static httpa_err say(char *why, size_t n, httpa_err e, const char *fmt, ...) CL_PRINTF(4, 5);

static httpa_err say(char *why, size_t n, httpa_err e, const char *fmt, ...)
{
    if (why != NULL && n > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return e;
}

/* ---- one POST /v1/appraise ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    httpa_buf *b = arg;
    return httpa_buf_append(b, p, size * n) == HTTPA_OK ? size * n : 0;
}

static httpa_err request_body(const char *tee, httpa_span ev, const uint8_t *nonce, char **out)
{
    httpa_buf b64, n64;
    httpa_buf_init(&b64, 4 * TA_EVIDENCE_MAX / 3 + 8);
    httpa_buf_init(&n64, 128);
    httpa_err e = httpa_base64_encode(ev, &b64);
    if (e == HTTPA_OK && nonce != NULL)
        e = httpa_base64url_encode(HTTPA_SPAN(nonce, HTTPA_REPORT_DATA_LEN), &n64);
    json_t *o = e == HTTPA_OK ? json_pack("{s:s,s:s%}", "tee", tee, "evidence",
                                          (const char *)b64.base, b64.len)
                              : NULL;
    if (o != NULL && nonce != NULL)
        json_object_set_new(o, "nonce", json_stringn((const char *)n64.base, n64.len));
    *out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    httpa_buf_free(&b64);
    httpa_buf_free(&n64);
    return e != HTTPA_OK ? e : *out != NULL ? HTTPA_OK : HTTPA_ERR_NOMEM;
}

static void set_options(CURL *h, const httpa_ta_client_config *cfg, const char *url,
                        const char *body, struct curl_slist *hdr, httpa_buf *resp)
{
    long t = cfg->timeout_ms > 0 ? cfg->timeout_ms : TA_DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     cfg->user_agent != NULL ? cfg->user_agent : "httpa-ta-client/0.1.0");
    if (cfg->cafile != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->cafile);
    if (cfg->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* The HTTP exchange: *status and the body in `resp`. */
static httpa_err post(const httpa_ta_client_config *cfg, const char *body, long *status,
                      httpa_buf *resp, char *why, size_t n)
{
    char url[1024];
    size_t ul = strlen(cfg->url);
    while (ul != 0 && cfg->url[ul - 1] == '/')
        ul--;
    if (ul == 0 || ul + sizeof("/v1/appraise") > sizeof(url))
        return say(why, n, HTTPA_ERR_INVALID_ARG, "bad TA URL");
    snprintf(url, sizeof(url), "%.*s/v1/appraise", (int)ul, cfg->url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (h == NULL || hdr == NULL) {
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        return say(why, n, HTTPA_ERR_NOMEM, "out of memory");
    }
    set_options(h, cfg, url, body, hdr, resp);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return say(why, n, HTTPA_ERR_NETWORK, "Trusted Authority %s unreachable: %s", url,
                   curl_easy_strerror(rc));
    return HTTPA_OK;
}

/* ---- the answer ---- */

static void copy_member(json_t *o, const char *k, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, k);
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static httpa_err problem_answer(long status, json_t *o, httpa_ta_token_info *info, char *why,
                                size_t n)
{
    json_t *type = json_object_get(o, "type");
    const char *t = json_is_string(type) ? json_string_value(type) : "";
    const char *name = strncmp(t, "urn:httpa2:ta:error:", 20) == 0 ? t + 20 : t;
    json_t *detail = json_object_get(o, "detail");
    snprintf(info->problem, sizeof(info->problem), "%s", name);
    /* 4xx: the TA judged the evidence (or our request); 429 and 5xx: the
     * TA cannot answer now (rate limit, stale collateral, failure) */
    httpa_err e = status >= 400 && status < 500 && status != 429 ? HTTPA_ERR_BAD_QUOTE
                                                                 : HTTPA_ERR_NETWORK;
    return say(why, n, e, "Trusted Authority answered %ld %s%s%s", status,
               name[0] ? name : "(no problem type)", json_is_string(detail) ? ": " : "",
               json_is_string(detail) ? json_string_value(detail) : "");
}

static httpa_err token_answer(json_t *o, httpa_buf *token, httpa_ta_token_info *info, char *why,
                              size_t n)
{
    json_t *t = json_object_get(o, "token"), *iat = json_object_get(o, "iat");
    json_t *exp = json_object_get(o, "exp");
    if (!json_is_string(t) || json_string_length(t) == 0 ||
        json_string_length(t) > HTTPA_EAT_TOKEN_MAX)
        return say(why, n, HTTPA_ERR_BAD_QUOTE, "the Trusted Authority's answer has no token");
    copy_member(o, "kid", info->kid, sizeof(info->kid));
    copy_member(o, "verdict", info->verdict, sizeof(info->verdict));
    copy_member(o, "tcb_status", info->tcb_status, sizeof(info->tcb_status));
    info->iat = json_is_integer(iat) ? (int64_t)json_integer_value(iat) : 0;
    info->exp = json_is_integer(exp) ? (int64_t)json_integer_value(exp) : 0;
    if (strcmp(info->verdict, "affirming") != 0 && strcmp(info->verdict, "warning") != 0) {
        json_t *d = json_object_get(o, "detail");
        return say(why, n, HTTPA_ERR_POLICY_VIOLATION,
                   "the Trusted Authority's verdict is %s%s%s",
                   info->verdict[0] ? info->verdict : "missing", json_is_string(d) ? ": " : "",
                   json_is_string(d) ? json_string_value(d) : "");
    }
    return httpa_buf_append(token, json_string_value(t), json_string_length(t));
}

static httpa_err parse_answer(long status, const httpa_buf *resp, httpa_buf *token,
                              httpa_ta_token_info *info, char *why, size_t n)
{
    json_t *o = json_loadb((const char *)resp->base, resp->len, JSON_REJECT_DUPLICATES, NULL);
    httpa_err e;
    info->status = (int)status;
    if (!json_is_object(o))
        e = say(why, n, status == 200 ? HTTPA_ERR_BAD_QUOTE : HTTPA_ERR_NETWORK,
                "Trusted Authority answered %ld without a JSON body", status);
    else if (status != 200)
        e = problem_answer(status, o, info, why, n);
    else
        e = token_answer(o, token, info, why, n);
    json_decref(o);
    return e;
}

/* With keys: the token itself, and that it is about this evidence. */
static httpa_err check_token(const httpa_eat_keyset *keys, const char *tee, httpa_span ev,
                             httpa_span token, int64_t now, char *why, size_t n)
{
    httpa_eat_claims c;
    httpa_eat_diag d;
    httpa_err e = httpa_eat_verify_token(keys, tee, token, now, &c, &d);
    if (e != HTTPA_OK)
        return say(why, n, HTTPA_ERR_BAD_QUOTE, "the Trusted Authority's token is invalid: %s%s%s",
                   httpa_eat_reason_text(d.reason), d.detail[0] ? ": " : "", d.detail);
    if (httpa_eat_check_evidence(&c, ev) != HTTPA_OK)
        return say(why, n, HTTPA_ERR_BAD_QUOTE,
                   "the Trusted Authority's token is about other evidence");
    return HTTPA_OK;
}

httpa_err httpa_ta_fetch_token(const httpa_ta_client_config *cfg, const char *tee,
                               httpa_span evidence, const uint8_t *nonce,
                               const struct httpa_eat_keyset *keys, int64_t now, httpa_buf *token,
                               httpa_ta_token_info *info, char *why, size_t why_len)
{
    httpa_ta_token_info local;
    httpa_ta_token_info *ti = info != NULL ? info : &local;
    char *body = NULL;
    long status = 0;
    httpa_buf resp;
    memset(ti, 0, sizeof(*ti));
    if (cfg == NULL || cfg->url == NULL || tee == NULL || token == NULL || evidence.len == 0)
        return say(why, why_len, HTTPA_ERR_INVALID_ARG, "missing TA URL, TEE or evidence");
    size_t start = token->len;
    httpa_err e = request_body(tee, evidence, nonce, &body);
    httpa_buf_init(&resp, TA_RESP_MAX);
    if (e == HTTPA_OK)
        e = post(cfg, body, &status, &resp, why, why_len);
    else
        say(why, why_len, e, "cannot build the request: %s", httpa_strerror(e));
    if (e == HTTPA_OK)
        e = parse_answer(status, &resp, token, ti, why, why_len);
    if (e == HTTPA_OK && keys != NULL)
        e = check_token(keys, tee, evidence,
                        HTTPA_SPAN(token->base + start, token->len - start), now, why, why_len);
    if (e != HTTPA_OK)
        token->len = start;
    free(body);
    httpa_buf_free(&resp);
    return e;
}

/* ---- the background-check verifier ---- */

static httpa_err reject(const httpa_ta_verifier *v, const char *tee, httpa_err e, const char *why)
{
    if (v->on_reject != NULL)
        v->on_reject(v->on_reject_arg, tee, e, why);
    return e;
}

/* A token (stapled or fetched): the EAT rules, verdict and policy. A kid
 * that is not configured fails here (a fetched token is never ignored). */
static httpa_err check_claims(const httpa_ta_verifier *v, const char *tee, httpa_span token,
                              int64_t now, httpa_appraisal *out, httpa_eat_claims *c,
                              bool stapled, char *why, size_t n)
{
    httpa_eat_verifier ev;
    httpa_eat_diag d;
    httpa_eat_verifier_init(&ev, v->keys, v->policy);
    ev.allow_warning = v->allow_warning;
    httpa_err e = httpa_eat_verifier_check(&ev, tee, "eat", token, now, out, c, &d);
    if (e == HTTPA_ERR_UNSUPPORTED && stapled)
        return e; /* a stapled token by an unknown authority: ignored (7.4) */
    if (e == HTTPA_ERR_UNSUPPORTED)
        e = HTTPA_ERR_BAD_QUOTE;
    if (e != HTTPA_OK)
        say(why, n, e, "token %s: %s%s%s", httpa_eat_reason_name(d.reason),
            httpa_eat_reason_text(d.reason), d.detail[0] ? ": " : "", d.detail);
    return e;
}

static httpa_err appraise_raw(const httpa_ta_verifier *v, const char *tee, httpa_span ev,
                              int64_t now, httpa_appraisal *out, char *why, size_t n)
{
    httpa_buf tok;
    httpa_eat_claims c;
    httpa_buf_init(&tok, HTTPA_EAT_TOKEN_MAX);
    httpa_err e = httpa_ta_fetch_token(&v->ta, tee, ev, NULL, NULL, now, &tok, NULL, why, n);
    if (e == HTTPA_OK)
        e = check_claims(v, tee, httpa_buf_span(&tok), now, out, &c, false, why, n);
    if (e == HTTPA_OK && httpa_eat_check_evidence(&c, ev) != HTTPA_OK)
        e = say(why, n, HTTPA_ERR_BAD_QUOTE, "the Trusted Authority's token is about other "
                                              "evidence");
    httpa_buf_free(&tok);
    return e;
}

static httpa_err ta_appraise(httpa_verifier *self, const char *tee, const char *format,
                             httpa_span evidence, int64_t now, httpa_appraisal *out)
{
    const httpa_ta_verifier *v = (const httpa_ta_verifier *)self;
    char why[TA_WHY_MAX] = "";
    httpa_eat_claims c;
    httpa_err e;
    if (strcmp(format, "eat") == 0)
        e = check_claims(v, tee, evidence, now, out, &c, true, why, sizeof(why));
    else if (strcmp(format, "raw") == 0)
        e = appraise_raw(v, tee, evidence, now, out, why, sizeof(why));
    else
        return HTTPA_ERR_UNSUPPORTED;
    return e == HTTPA_OK || e == HTTPA_ERR_UNSUPPORTED ? e : reject(v, tee, e, why);
}

void httpa_ta_verifier_init(httpa_ta_verifier *v, const httpa_ta_client_config *ta,
                            const struct httpa_eat_keyset *keys, const struct httpa_policy *policy)
{
    memset(v, 0, sizeof(*v));
    v->base.appraise = ta_appraise;
    if (ta != NULL)
        v->ta = *ta;
    v->keys = keys;
    v->policy = policy;
}
