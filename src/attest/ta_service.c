/* The TA's HTTP semantics, free of I/O: routing, the rate limiter, the
 * appraisal endpoint's JSON, the JWKS, health and metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dcap_int.h"
#include "eat_int.h"
#include "ta_int.h"

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define RESP_MAX (1024 * 1024)

/* ---- life cycle ---- */

static httpa_err check_config(const httpa_ta_config *c)
{
    int64_t ttl = c->token_ttl != 0 ? c->token_ttl : TA_DEFAULT_TTL;
    if (c->policy == NULL || ttl <= 0 || ttl > 7 * 86400 || c->rotate_seconds < 0 ||
        c->ncollaterals > HTTPA_TA_MAX_COLLATERALS ||
        (c->ncollaterals != 0 && c->collaterals == NULL) ||
        (c->issuer != NULL && strlen(c->issuer) >= HTTPA_EAT_ISS_MAX))
        return HTTPA_ERR_INVALID_ARG;
    /* every retired key must fit in the JWKS until its tokens expire */
    if (c->rotate_seconds > 0 && ttl > TA_ROTATE_WINDOWS * c->rotate_seconds)
        return HTTPA_ERR_INVALID_ARG;
    return HTTPA_OK;
}

static void configure(httpa_ta *ta, const httpa_ta_config *cfg)
{
    snprintf(ta->issuer, sizeof(ta->issuer), "%s", cfg->issuer ? cfg->issuer : "httpa-ta");
    ta->policy = cfg->policy;
    ta->trust = cfg->trust;
    for (size_t i = 0; i < cfg->ncollaterals; i++)
        ta->cols[i] = cfg->collaterals[i];
    ta->ncols = cfg->ncollaterals;
    ta->pcs = cfg->pcs;
    ta->allow_sim = cfg->allow_sim;
    httpa_sim_verifier_init(&ta->sim, cfg->sim_key);
    ta->sim.allow_debug = true; /* the policy judges debug, as for every TEE */
    ta->ttl = cfg->token_ttl != 0 ? cfg->token_ttl : TA_DEFAULT_TTL;
    ta->max_body = cfg->max_body != 0 ? cfg->max_body : TA_DEFAULT_MAX_BODY;
}

httpa_err httpa_ta_new(const httpa_ta_config *cfg, int64_t now, httpa_ta **out)
{
    if (cfg == NULL || out == NULL || check_config(cfg) != HTTPA_OK)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    httpa_ta *ta = calloc(1, sizeof(*ta));
    if (ta == NULL)
        return HTTPA_ERR_NOMEM;
    configure(ta, cfg);
    httpa_err e = ta_limiter_init(&ta->limiter, cfg->rate, cfg->burst, cfg->max_peers);
    if (e == HTTPA_OK)
        e = ta_keys_init(&ta->keys, cfg->key, cfg->rotate_seconds, now);
    if (e == HTTPA_OK && pthread_mutex_init(&ta->mu, NULL) != 0)
        e = HTTPA_ERR_NOMEM;
    if (e != HTTPA_OK) {
        ta_keys_clear(&ta->keys);
        ta_limiter_free(&ta->limiter);
        free(ta);
        return e;
    }
    *out = ta;
    return HTTPA_OK;
}

void httpa_ta_free(httpa_ta *ta)
{
    if (ta == NULL)
        return;
    for (size_t i = 0; i < ta->nfetched; i++)
        httpa_dcap_collateral_free(ta->fetched[i]);
    ta_keys_clear(&ta->keys);
    ta_limiter_free(&ta->limiter);
    pthread_mutex_destroy(&ta->mu);
    httpa_wipe(ta, sizeof(*ta));
    free(ta);
}

void httpa_ta_current_kid(httpa_ta *ta, char out[HTTPA_EAT_KID_MAX])
{
    pthread_mutex_lock(&ta->mu);
    ta_key *k = ta_keys_current(&ta->keys);
    snprintf(out, HTTPA_EAT_KID_MAX, "%s", k != NULL ? k->s.kid : "");
    pthread_mutex_unlock(&ta->mu);
}

void httpa_ta_response_init(httpa_ta_response *r)
{
    memset(r, 0, sizeof(*r));
    httpa_buf_init(&r->body, RESP_MAX);
}

void httpa_ta_response_free(httpa_ta_response *r)
{
    httpa_buf_free(&r->body);
}

/* ---- answers ---- */

static void count_reason(httpa_ta *ta, httpa_ta_problem p, const char *reason)
{
    for (int r = 1; reason != NULL && r < HTTPA_DCAP_REASON__COUNT; r++)
        if (p != HTTPA_TA_P_UNSUPPORTED_TEE && strcmp(reason, httpa_dcap_reason_name(r)) == 0) {
            ta->metrics.dcap[r]++;
            return;
        }
    for (int r = 1; reason != NULL && r < HTTPA_POLICY_REASON__COUNT; r++)
        if (strcmp(reason, httpa_policy_reason_name(r)) == 0) {
            ta->metrics.policy[r]++;
            return;
        }
    if ((unsigned)p < HTTPA_TA_P__COUNT)
        ta->metrics.problems[p]++;
}

static httpa_err problem(httpa_ta *ta, httpa_ta_response *resp, httpa_ta_problem p,
                         const char *detail, const char *reason)
{
    pthread_mutex_lock(&ta->mu);
    count_reason(ta, p, reason);
    pthread_mutex_unlock(&ta->mu);
    httpa_buf_reset(&resp->body);
    resp->status = httpa_ta_problem_status(p);
    resp->content_type = CT_PROBLEM;
    return ta_problem_body(p, detail, reason, &resp->body);
}

static httpa_err send_json(httpa_ta_response *resp, int status, json_t *o)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s == NULL)
        return HTTPA_ERR_NOMEM;
    httpa_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = CT_JSON;
    httpa_err e = httpa_buf_append_str(&resp->body, s);
    free(s);
    return e;
}

/* ---- POST /v1/appraise ---- */

static json_t *advisories(const httpa_eat_claims *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < c->nadvisories; i++)
        json_array_append_new(a, json_string(c->advisory_ids[i]));
    return a;
}

static json_t *result_json(const ta_outcome *o)
{
    const httpa_eat_claims *c = &o->claims;
    json_t *r = json_pack("{s:s%,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:o,s:o}", "token",
                          (const char *)o->token.base, o->token.len, "kid", o->kid, "tee", c->tee,
                          "verdict", httpa_eat_verdict_name(c->verdict), "tcb_status",
                          c->tcb_status, "advisory_ids", advisories(c), "iat", (json_int_t)c->iat,
                          "exp", (json_int_t)c->exp, "report_data",
                          eat_b64u_json(c->report_data, HTTPA_REPORT_DATA_LEN), "evidence_sha256",
                          eat_b64u_json(c->evidence_sha256, 32));
    if (r != NULL && c->verdict == HTTPA_EAT_VERDICT_CONTRAINDICATED) {
        json_object_set_new(r, "reason", json_string(o->reason));
        json_object_set_new(r, "detail", json_string(o->detail));
    }
    return r;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static httpa_err do_appraise(httpa_ta *ta, const httpa_ta_request *req, int64_t now,
                             httpa_ta_response *resp)
{
    httpa_ta_appraise_req q;
    ta_outcome o;
    char why[160] = "";
    if (req->body.len > ta->max_body) {
        snprintf(why, sizeof(why), "the body has %zu octets; this TA accepts at most %zu",
                 req->body.len, ta->max_body);
        return problem(ta, resp, HTTPA_TA_P_TOO_LARGE, why, NULL);
    }
    httpa_err e = httpa_ta_parse_appraise((const char *)req->body.base, req->body.len, &q, why,
                                          sizeof(why));
    if (e != HTTPA_OK)
        return problem(ta, resp, e == HTTPA_ERR_TOO_LARGE ? HTTPA_TA_P_TOO_LARGE
                                                          : HTTPA_TA_P_MALFORMED_REQUEST,
                       why, NULL);
    ta_outcome_init(&o);
    double t0 = mono_now();
    ta_appraise(ta, &q, now, &o);
    double dt = mono_now() - t0;
    if (o.problem != HTTPA_TA_P__COUNT) {
        e = problem(ta, resp, o.problem, o.detail, o.reason);
    } else {
        pthread_mutex_lock(&ta->mu);
        ta_metrics_appraisal(&ta->metrics, q.tee, o.claims.verdict, dt);
        if (o.claims.verdict == HTTPA_EAT_VERDICT_CONTRAINDICATED)
            count_reason(ta, HTTPA_TA_P__COUNT, o.reason);
        pthread_mutex_unlock(&ta->mu);
        e = send_json(resp, 200, result_json(&o));
    }
    ta_outcome_free(&o);
    httpa_ta_appraise_req_free(&q);
    return e;
}

/* ---- GET /v1/jwks, /healthz, /metrics ---- */

static httpa_err do_jwks(httpa_ta *ta, httpa_ta_response *resp)
{
    httpa_buf_reset(&resp->body);
    pthread_mutex_lock(&ta->mu);
    httpa_err e = ta_keys_jwks(&ta->keys, &resp->body);
    pthread_mutex_unlock(&ta->mu);
    resp->status = 200;
    resp->content_type = "application/jwk-set+json";
    return e;
}

static json_t *collateral_json(const httpa_dcap_collateral *c, int64_t now, bool *fresh)
{
    char fmspc[13];
    int64_t exp = httpa_dcap_collateral_expiry(c);
    eat_hex(c->tcb.fmspc, 6, fmspc);
    bool ok = now >= c->tcb.issue_date && now < exp;
    *fresh = *fresh && ok;
    return json_pack("{s:s,s:s,s:I,s:I,s:b}", "tee", c->tcb.tdx ? "tdx" : "sgx", "fmspc", fmspc,
                     "issued", (json_int_t)c->tcb.issue_date, "next_update", (json_int_t)exp,
                     "fresh", ok);
}

static httpa_err do_health(httpa_ta *ta, int64_t now, httpa_ta_response *resp)
{
    bool fresh = true;
    char kid[HTTPA_EAT_KID_MAX];
    json_t *cols = json_array();
    for (size_t i = 0; cols != NULL && i < ta->ncols; i++)
        json_array_append_new(cols, collateral_json(ta->cols[i], now, &fresh));
    httpa_ta_current_kid(ta, kid);
    json_t *o = json_pack("{s:s,s:I,s:s,s:b,s:b,s:o}", "status", fresh ? "ok" : "stale-collateral",
                          "time", (json_int_t)now, "kid", kid, "sim", ta->allow_sim, "pccs",
                          ta->pcs != NULL, "collateral", cols);
    resp->retry_after = fresh ? 0 : 60;
    return send_json(resp, fresh ? 200 : 503, o);
}

static httpa_err do_metrics(httpa_ta *ta, httpa_ta_response *resp)
{
    httpa_buf_reset(&resp->body);
    pthread_mutex_lock(&ta->mu);
    ta_metrics_output(&ta->metrics, &ta->keys, &resp->body);
    pthread_mutex_unlock(&ta->mu);
    resp->status = 200;
    resp->content_type = CT_METRICS;
    return HTTPA_OK;
}

/* ---- routing ---- */

typedef enum ta_route { ROUTE_APPRAISE, ROUTE_JWKS, ROUTE_HEALTH, ROUTE_METRICS, ROUTE_NONE } ta_route;

static ta_route route_of(const char *path, size_t len)
{
    static const char *const paths[] = {"/v1/appraise", "/v1/jwks", "/healthz", "/metrics"};
    if (path == NULL)
        return ROUTE_NONE;
    const char *q = memchr(path, '?', len);
    size_t n = q != NULL ? (size_t)(q - path) : len;
    for (size_t i = 0; i < 4; i++)
        if (strlen(paths[i]) == n && memcmp(paths[i], path, n) == 0)
            return (ta_route)i;
    return ROUTE_NONE;
}

static bool method_is(const httpa_ta_request *r, const char *m)
{
    return r->method_len == strlen(m) && memcmp(r->method, m, r->method_len) == 0;
}

/* The limiter covers everything but the health and metrics probes. */
static bool admitted(httpa_ta *ta, const httpa_ta_request *req, ta_route rt, int64_t now,
                     double mono, int64_t *retry)
{
    pthread_mutex_lock(&ta->mu);
    ta->metrics.requests++;
    ta_keys_tick(&ta->keys, now);
    bool ok = rt == ROUTE_HEALTH || rt == ROUTE_METRICS ||
              ta_limiter_take(&ta->limiter, req->peer, mono, retry);
    pthread_mutex_unlock(&ta->mu);
    return ok;
}

httpa_err httpa_ta_handle(httpa_ta *ta, const httpa_ta_request *req, int64_t now, double mono,
                          httpa_ta_response *resp)
{
    int64_t retry = 0;
    if (ta == NULL || req == NULL || resp == NULL || (req->path == NULL && req->path_len != 0) ||
        (req->method == NULL && req->method_len != 0))
        return HTTPA_ERR_INVALID_ARG;
    resp->allow = NULL;
    resp->retry_after = 0;
    ta_route rt = route_of(req->path, req->path_len);
    if (!admitted(ta, req, rt, now, mono, &retry)) {
        resp->retry_after = retry;
        return problem(ta, resp, HTTPA_TA_P_RATE_LIMITED, "slow down: retry after the delay "
                       "in Retry-After", NULL);
    }
    bool get = method_is(req, "GET") || method_is(req, "HEAD");
    if (rt == ROUTE_NONE)
        return problem(ta, resp, HTTPA_TA_P_NOT_FOUND, "resources: POST /v1/appraise, GET "
                       "/v1/jwks, GET /healthz, GET /metrics", NULL);
    if ((rt == ROUTE_APPRAISE) != method_is(req, "POST") || (rt != ROUTE_APPRAISE && !get)) {
        resp->allow = rt == ROUTE_APPRAISE ? "POST" : "GET, HEAD";
        return problem(ta, resp, HTTPA_TA_P_METHOD_NOT_ALLOWED, NULL, NULL);
    }
    switch (rt) {
    case ROUTE_APPRAISE: return do_appraise(ta, req, now, resp);
    case ROUTE_JWKS: return do_jwks(ta, resp);
    case ROUTE_HEALTH: return do_health(ta, now, resp);
    case ROUTE_METRICS: return do_metrics(ta, resp);
    case ROUTE_NONE: break;
    }
    return problem(ta, resp, HTTPA_TA_P_NOT_FOUND, NULL, NULL);
}
