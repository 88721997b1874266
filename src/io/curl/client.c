/* The client object: its configuration, a pool of curl easy handles (kept
 * so that connections stay alive), and the cache of Attest Bases, one per
 * origin, shared by every thread under one mutex. A base is handed out with
 * a reference, so eviction never frees a base a request still uses. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define DEFAULT_MAX_ORIGINS 64
#define DEFAULT_MAX_IDLE 16
#define RENEW_MARGIN 30 /* seconds before expiry a base is no longer used */

httpa_curl_class httpa_curl_err_class(httpa_err e)
{
    /* No default: a new code in err_list.h must be classified here. */
    switch (e) {
    case HTTPA_OK:
        return HTTPA_CURL_CLASS_NONE;
    case HTTPA_ERR_NETWORK:
        return HTTPA_CURL_CLASS_NETWORK;
    case HTTPA_ERR_BAD_QUOTE:
        return HTTPA_CURL_CLASS_ATTESTATION;
    case HTTPA_ERR_POLICY_VIOLATION:
        return HTTPA_CURL_CLASS_POLICY;
    case HTTPA_ERR_BAD_REQUEST:
    case HTTPA_ERR_NEGOTIATION_FAILED:
    case HTTPA_ERR_STALE_DATE:
    case HTTPA_ERR_REPLAY:
    case HTTPA_ERR_UNKNOWN_BASE:
    case HTTPA_ERR_EXPIRED_BASE:
    case HTTPA_ERR_BAD_TICKET:
    case HTTPA_ERR_TOO_LARGE:
    case HTTPA_ERR_INTERNAL:
        return HTTPA_CURL_CLASS_PROTOCOL;
    case HTTPA_ERR_NOMEM:
    case HTTPA_ERR_LIBRARY:
    case HTTPA_ERR_INVALID_ARG:
    case HTTPA_ERR_BAD_STATE:
    case HTTPA_ERR_UNSUPPORTED:
    case HTTPA_ERR_IO:
    case HTTPA_ERR__COUNT:
        return HTTPA_CURL_CLASS_LOCAL;
    }
    return HTTPA_CURL_CLASS_LOCAL;
}

const char *httpa_curl_class_name(httpa_curl_class k)
{
    switch (k) {
    case HTTPA_CURL_CLASS_NONE:
        return "none";
    case HTTPA_CURL_CLASS_LOCAL:
        return "local";
    case HTTPA_CURL_CLASS_NETWORK:
        return "network";
    case HTTPA_CURL_CLASS_ATTESTATION:
        return "attestation";
    case HTTPA_CURL_CLASS_POLICY:
        return "policy";
    case HTTPA_CURL_CLASS_PROTOCOL:
        return "protocol";
    }
    return "local";
}

/* ---- responses ---- */

void httpa_curl_resp_init(httpa_curl_resp *r)
{
    memset(r, 0, sizeof(*r));
    httpa_msg_init_response(&r->msg, 0);
}

void httpa_curl_resp_free(httpa_curl_resp *r)
{
    httpa_msg_free(&r->msg);
    for (size_t i = 0; i < r->nfields; i++)
        free(r->fields[i].name);
    free(r->fields);
    httpa_curl_resp_init(r);
}

/* ---- URLs ---- */

static httpa_err url_parts(CURLU *u, cl_url *out, char *msg, size_t n)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    httpa_err e = HTTPA_ERR_INVALID_ARG;
    (void)curl_url_get(u, CURLUPART_USER, &user, 0);
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(msg, n, "URL without scheme, host or port");
    } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(msg, n, "URL scheme %s: only http and https carry HTTPA", scheme);
    } else if (user != NULL) {
        /* curl would send them as an Authorization field outside the Cargo. */
        snprintf(msg, n, "credentials in the URL would travel unsealed: use -H "
                         "'Authorization: ...' (always sealed)");
    } else {
        (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
        (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
        size_t ol = strlen(scheme) + strlen(host) + strlen(port) + 5;
        size_t tl = (path ? strlen(path) : 1) + (query ? strlen(query) + 1 : 0) + 2;
        out->origin = malloc(ol);
        out->target = malloc(tl);
        if (out->origin != NULL && out->target != NULL) {
            for (char *p = host; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            snprintf(out->origin, ol, "%s://%s:%s", scheme, host, port);
            snprintf(out->target, tl, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
                     query ? query : "");
            e = HTTPA_OK;
        } else {
            e = HTTPA_ERR_NOMEM;
            snprintf(msg, n, "out of memory");
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    return e;
}

httpa_err cl_url_parse(const char *url, cl_url *out, char *msg, size_t n)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL) {
        snprintf(msg, n, "no URL");
        return HTTPA_ERR_INVALID_ARG;
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(msg, n, "out of memory");
        return HTTPA_ERR_NOMEM;
    }
    httpa_err e = HTTPA_ERR_INVALID_ARG;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS | CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK)
        snprintf(msg, n, "bad URL: %s", curl_url_strerror(rc));
    else
        e = url_parts(u, out, msg, n);
    curl_url_cleanup(u);
    if (e != HTTPA_OK)
        cl_url_free(out);
    return e;
}

void cl_url_free(cl_url *u)
{
    free(u->origin);
    free(u->target);
    memset(u, 0, sizeof(*u));
}

/* ---- the client ---- */

httpa_err httpa_curl_client_new(const httpa_curl_config *cfg, httpa_curl_client **out)
{
    *out = NULL;
    if (cfg == NULL || cfg->engine.verifier == NULL || cfg->engine.verifier->appraise == NULL)
        return HTTPA_ERR_INVALID_ARG; /* no default verifier (profile 7.8) */
    httpa_curl_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HTTPA_ERR_NOMEM;
    c->cfg = *cfg;
    if (c->cfg.max_origins == 0)
        c->cfg.max_origins = DEFAULT_MAX_ORIGINS;
    if (c->cfg.max_idle_handles == 0)
        c->cfg.max_idle_handles = DEFAULT_MAX_IDLE;
    if (c->cfg.max_attempts == 0)
        c->cfg.max_attempts = 2;
    c->origins = calloc(c->cfg.max_origins, sizeof(*c->origins));
    c->idle = calloc(c->cfg.max_idle_handles, sizeof(*c->idle));
    if (c->origins == NULL || c->idle == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->origins);
        free(c->idle);
        free(c);
        return HTTPA_ERR_NOMEM;
    }
    if (pthread_cond_init(&c->cond, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c->origins);
        free(c->idle);
        free(c);
        return HTTPA_ERR_NOMEM;
    }
    *out = c;
    return HTTPA_OK;
}

static void base_unref_locked(cl_base *b)
{
    if (b == NULL || --b->refs != 0)
        return;
    httpa_client_base_release(b->base);
    httpa_wipe(b, sizeof(*b));
    free(b);
}

/* Forget the origin's base (only `only` when given). */
static void origin_drop_locked(cl_origin *o, const cl_base *only)
{
    if (o->cur == NULL || (only != NULL && o->cur != only))
        return;
    o->cur->cached = false;
    base_unref_locked(o->cur);
    o->cur = NULL;
}

void httpa_curl_client_free(httpa_curl_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->norigins; i++) {
        origin_drop_locked(&c->origins[i], NULL);
        free(c->origins[i].key);
    }
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c->origins);
    free(c->idle);
    free(c);
}

CURL *cl_handle_get(httpa_curl_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->nidle != 0)
        h = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->lock);
    if (h == NULL)
        return curl_easy_init();
    curl_easy_reset(h); /* keeps the live connections */
    return h;
}

void cl_handle_put(httpa_curl_client *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    if (c->nidle < c->cfg.max_idle_handles) {
        c->idle[c->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* ---- the cache ---- */

/* The origin's slot; a new one replaces the least recently used idle slot
 * when the table is full. NULL when every slot is busy. */
static cl_origin *origin_get_locked(httpa_curl_client *c, const char *key)
{
    cl_origin *victim = NULL;
    for (size_t i = 0; i < c->norigins; i++) {
        cl_origin *o = &c->origins[i];
        if (strcmp(o->key, key) == 0)
            return o;
        if (!o->busy && o->waiters == 0 && (victim == NULL || o->used < victim->used))
            victim = o;
    }
    char *k = strdup(key);
    if (k == NULL)
        return NULL;
    if (c->norigins < c->cfg.max_origins) {
        victim = &c->origins[c->norigins++];
    } else if (victim != NULL) {
        origin_drop_locked(victim, NULL);
        free(victim->key);
    } else {
        free(k);
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    victim->key = k;
    return victim;
}

static bool stale(const cl_base *b, int64_t now)
{
    return now >= b->renew_at || httpa_client_base_expired(b->base, now);
}

void cl_base_release(httpa_curl_client *c, cl_base *b)
{
    pthread_mutex_lock(&c->lock);
    base_unref_locked(b);
    pthread_mutex_unlock(&c->lock);
}

void cl_base_forget(httpa_curl_client *c, const cl_url *u, cl_base *b)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->norigins; i++)
        if (strcmp(c->origins[i].key, u->origin) == 0)
            origin_drop_locked(&c->origins[i], b);
    pthread_mutex_unlock(&c->lock);
}

/* When to stop using a base: RENEW_MARGIN before its expiry, or a tenth of
 * its lifetime for short ones, so that no request is sent on a base that
 * expires on its way. */
static void set_renewal(cl_base *b, int64_t sent)
{
    int64_t life = b->att.expires_at - sent;
    int64_t margin = life / 10 < RENEW_MARGIN ? life / 10 : RENEW_MARGIN;
    b->renew_at = b->att.expires_at > 0 ? b->att.expires_at - margin : INT64_MAX;
}

/* A base for the origin: the cached one, or a new handshake. Threads that
 * need the same origin wait for one handshake instead of each running one. */
httpa_err cl_base_acquire(httpa_curl_client *c, const cl_url *u, bool force,
                          cl_handshake_fn hs, void *arg, cl_base **out)
{
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    cl_origin *o = origin_get_locked(c, u->origin);
    if (o == NULL) {
        pthread_mutex_unlock(&c->lock);
        return HTTPA_ERR_NOMEM;
    }
    for (;;) {
        o->used = ++c->tick;
        if (o->cur != NULL && !force && !stale(o->cur, (int64_t)time(NULL))) {
            o->cur->refs++;
            *out = o->cur;
            pthread_mutex_unlock(&c->lock);
            return HTTPA_OK;
        }
        if (!o->busy)
            break;
        o->waiters++;
        pthread_cond_wait(&c->cond, &c->lock);
        o->waiters--;
    }
    o->busy = true;
    origin_drop_locked(o, NULL);
    pthread_mutex_unlock(&c->lock);

    int64_t sent = (int64_t)time(NULL);
    cl_base *b = NULL;
    httpa_err e = hs(c, u, sent, arg, &b);

    pthread_mutex_lock(&c->lock);
    o->busy = false;
    if (e == HTTPA_OK) {
        set_renewal(b, sent);
        b->refs = 2; /* the cache's and the caller's */
        b->cached = true;
        o->cur = b;
        c->handshakes++;
        *out = b;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return e;
}

void httpa_curl_forget(httpa_curl_client *c, const char *url)
{
    cl_url u;
    char msg[128];
    if (url != NULL && cl_url_parse(url, &u, msg, sizeof(msg)) != HTTPA_OK)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->norigins; i++)
        if (url == NULL || strcmp(c->origins[i].key, u.origin) == 0)
            origin_drop_locked(&c->origins[i], NULL);
    pthread_mutex_unlock(&c->lock);
    if (url != NULL)
        cl_url_free(&u);
}

uint64_t httpa_curl_handshakes(httpa_curl_client *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->handshakes;
    pthread_mutex_unlock(&c->lock);
    return n;
}
