/* The appraisal policy engine and the verdict cache.
 *
 * Fail closed everywhere: a TEE type without a section is refused, the
 * default TCB status set is {UpToDate}, no advisory is allowed unless
 * listed, debug and simulated evidence are refused unless enabled, and no
 * policy at all means "reject". An absent measurement list means "any
 * value"; an empty list means "none". */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap_int.h"
#include "httpa/crypto.h"
#include "httpa/policy.h"

#define MEAS_MAX 48
#define TCB_STATUS_COUNT 6

/* Intel's statuses a policy may accept (Revoked is never acceptable). */
static const char *const TCB_STATUSES[TCB_STATUS_COUNT] = {
    "UpToDate",  "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
    "OutOfDate", "OutOfDateConfigurationNeeded",
};

static const char *const REASON_NAMES[] = {
#define HTTPA_POLICY_X(name, text) #name,
    HTTPA_POLICY_REASONS(HTTPA_POLICY_X)
#undef HTTPA_POLICY_X
};
static const char *const REASON_TEXTS[] = {
#define HTTPA_POLICY_X(name, text) text,
    HTTPA_POLICY_REASONS(HTTPA_POLICY_X)
#undef HTTPA_POLICY_X
};

const char *httpa_policy_reason_name(httpa_policy_reason r)
{
    return (unsigned)r < HTTPA_POLICY_REASON__COUNT ? REASON_NAMES[r] : "UNKNOWN";
}

const char *httpa_policy_reason_text(httpa_policy_reason r)
{
    return (unsigned)r < HTTPA_POLICY_REASON__COUNT ? REASON_TEXTS[r] : "unknown reason";
}

/* A list of accepted values of one measurement; `set` false means "any". */
typedef struct meas_list {
    bool set;
    size_t n;
    size_t len; /* octets per value */
    uint8_t v[HTTPA_POLICY_LIST_MAX][MEAS_MAX];
} meas_list;

struct httpa_policy {
    bool tee[HTTPA_POLICY_TEE__COUNT];
    meas_list mrenclave, mrsigner, mrtd, rtmr[4], sim_measurement;
    bool has_isvprodid;
    uint16_t isvprodid;
    uint16_t min_isvsvn;
    uint32_t sim_min_svn;
    bool status_ok[TCB_STATUS_COUNT];
    bool any_advisory;
    size_t nadvisories;
    char advisories[HTTPA_POLICY_LIST_MAX][HTTPA_ADVISORY_ID_MAX];
    bool allow_debug;
    bool allow_simulated;
    int64_t max_age; /* seconds; 0: no limit */
    uint8_t hash[32];
};

/* ---- Loading ---- */

typedef struct lctx {
    char *err;
    size_t err_len;
} lctx;

static httpa_err lfail(const lctx *l, const char *key, const char *what)
{
    if (l->err != NULL && l->err_len > 0)
        snprintf(l->err, l->err_len, "policy: %s: %s", key, what);
    return HTTPA_ERR_INVALID_ARG;
}

static bool is_comment(const char *key)
{
    return key[0] == '_';
}

static httpa_err load_meas(const lctx *l, json_t *arr, const char *key, size_t len, meas_list *m)
{
    size_t i;
    json_t *v = NULL;
    if (!json_is_array(arr) || json_array_size(arr) > HTTPA_POLICY_LIST_MAX)
        return lfail(l, key, "must be an array of at most 64 hex strings");
    m->set = true;
    m->len = len;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)
            || !dcap_hex_decode(json_string_value(v), json_string_length(v), m->v[i], len))
            return lfail(l, key, len == 32 ? "entries must be 64 hex digits"
                                           : "entries must be 96 hex digits");
    }
    m->n = json_array_size(arr);
    return HTTPA_OK;
}

static httpa_err load_uint(const lctx *l, json_t *v, const char *key, int64_t max, int64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return lfail(l, key, "must be a non-negative integer in range");
    *out = (int64_t)json_integer_value(v);
    return HTTPA_OK;
}

static httpa_err load_sgx_member(const lctx *l, httpa_policy *p, const char *k, json_t *v)
{
    int64_t n = 0;
    httpa_err e;
    if (strcmp(k, "mrenclave") == 0)
        return load_meas(l, v, "sgx.mrenclave", 32, &p->mrenclave);
    if (strcmp(k, "mrsigner") == 0)
        return load_meas(l, v, "sgx.mrsigner", 32, &p->mrsigner);
    if (strcmp(k, "isvprodid") == 0) {
        e = load_uint(l, v, "sgx.isvprodid", UINT16_MAX, &n);
        p->has_isvprodid = true;
        p->isvprodid = (uint16_t)n;
        return e;
    }
    if (strcmp(k, "min_isvsvn") == 0) {
        e = load_uint(l, v, "sgx.min_isvsvn", UINT16_MAX, &n);
        p->min_isvsvn = (uint16_t)n;
        return e;
    }
    return lfail(l, k, "unknown member of \"sgx\"");
}

static httpa_err load_tdx_member(const lctx *l, httpa_policy *p, const char *k, json_t *v)
{
    static const char *const rtmr[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
    static const char *const where[4] = {"tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.rtmr3"};
    if (strcmp(k, "mrtd") == 0)
        return load_meas(l, v, "tdx.mrtd", 48, &p->mrtd);
    for (size_t i = 0; i < 4; i++)
        if (strcmp(k, rtmr[i]) == 0)
            return load_meas(l, v, where[i], 48, &p->rtmr[i]);
    return lfail(l, k, "unknown member of \"tdx\"");
}

static httpa_err load_sim_member(const lctx *l, httpa_policy *p, const char *k, json_t *v)
{
    int64_t n = 0;
    if (strcmp(k, "measurement") == 0)
        return load_meas(l, v, "sim.measurement", 32, &p->sim_measurement);
    if (strcmp(k, "min_svn") == 0) {
        httpa_err e = load_uint(l, v, "sim.min_svn", UINT32_MAX, &n);
        p->sim_min_svn = (uint32_t)n;
        return e;
    }
    return lfail(l, k, "unknown member of \"sim\"");
}

typedef httpa_err (*member_fn)(const lctx *l, httpa_policy *p, const char *k, json_t *v);

static httpa_err load_section(const lctx *l, httpa_policy *p, json_t *o, const char *name,
                              httpa_policy_tee tee, member_fn fn)
{
    const char *k = NULL;
    json_t *v = NULL;
    if (!json_is_object(o))
        return lfail(l, name, "must be an object");
    p->tee[tee] = true;
    json_object_foreach(o, k, v) {
        httpa_err e = is_comment(k) ? HTTPA_OK : fn(l, p, k, v);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

static httpa_err load_statuses(const lctx *l, httpa_policy *p, json_t *arr)
{
    size_t i;
    json_t *v = NULL;
    const char *key = "accepted_tcb_status";
    if (!json_is_array(arr))
        return lfail(l, key, "must be an array of TCB status names");
    memset(p->status_ok, 0, sizeof(p->status_ok));
    json_array_foreach(arr, i, v) {
        size_t k = 0;
        while (k < TCB_STATUS_COUNT && !(json_is_string(v)
                                         && strcmp(json_string_value(v), TCB_STATUSES[k]) == 0))
            k++;
        if (k == TCB_STATUS_COUNT)
            return lfail(l, key, "unknown status (UpToDate, SWHardeningNeeded, "
                                 "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, "
                                 "OutOfDate, OutOfDateConfigurationNeeded; never Revoked)");
        p->status_ok[k] = true;
    }
    return HTTPA_OK;
}

static httpa_err load_advisories(const lctx *l, httpa_policy *p, json_t *arr)
{
    size_t i;
    json_t *v = NULL;
    const char *key = "allowed_advisory_ids";
    if (!json_is_array(arr) || json_array_size(arr) > HTTPA_POLICY_LIST_MAX)
        return lfail(l, key, "must be an array of at most 64 strings");
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) >= HTTPA_ADVISORY_ID_MAX)
            return lfail(l, key, "entries must be advisory IDs (\"INTEL-SA-00615\") or \"*\"");
        if (strcmp(json_string_value(v), "*") == 0)
            p->any_advisory = true;
        snprintf(p->advisories[i], HTTPA_ADVISORY_ID_MAX, "%s", json_string_value(v));
    }
    p->nadvisories = json_array_size(arr);
    return HTTPA_OK;
}

static httpa_err load_bool(const lctx *l, json_t *v, const char *key, bool *out)
{
    if (!json_is_boolean(v))
        return lfail(l, key, "must be true or false");
    *out = json_is_true(v);
    return HTTPA_OK;
}

static httpa_err load_member(const lctx *l, httpa_policy *p, const char *k, json_t *v)
{
    int64_t n = 0;
    if (strcmp(k, "sgx") == 0)
        return load_section(l, p, v, k, HTTPA_POLICY_SGX, load_sgx_member);
    if (strcmp(k, "tdx") == 0)
        return load_section(l, p, v, k, HTTPA_POLICY_TDX, load_tdx_member);
    if (strcmp(k, "sim") == 0)
        return load_section(l, p, v, k, HTTPA_POLICY_SIM, load_sim_member);
    if (strcmp(k, "accepted_tcb_status") == 0)
        return load_statuses(l, p, v);
    if (strcmp(k, "allowed_advisory_ids") == 0)
        return load_advisories(l, p, v);
    if (strcmp(k, "allow_debug") == 0)
        return load_bool(l, v, k, &p->allow_debug);
    if (strcmp(k, "allow_simulated") == 0)
        return load_bool(l, v, k, &p->allow_simulated);
    if (strcmp(k, "max_collateral_age") == 0) {
        httpa_err e = load_uint(l, v, k, INT64_MAX / 2, &n);
        if (e == HTTPA_OK && n == 0)
            e = lfail(l, k, "must be a positive number of seconds (omit it for no limit)");
        p->max_age = n;
        return e;
    }
    if (strcmp(k, "version") == 0)
        return json_is_integer(v) && json_integer_value(v) == 1 ? HTTPA_OK
                                                                 : lfail(l, k, "must be 1");
    return lfail(l, k, "unknown member");
}

/* The JSON without comment members, recursively: what the hash covers. */
static json_t *strip_comments(json_t *v)
{
    const char *k = NULL;
    json_t *m = NULL;
    size_t i;
    if (json_is_object(v)) {
        json_t *o = json_object();
        json_object_foreach(v, k, m) {
            if (!is_comment(k) && json_object_set_new(o, k, strip_comments(m)) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        json_array_foreach(v, i, m) {
            if (json_array_append_new(a, strip_comments(m)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    return json_deep_copy(v);
}

static httpa_err hash_policy(json_t *root, uint8_t out[32])
{
    json_t *clean = strip_comments(root);
    char *text = clean != NULL ? json_dumps(clean, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    httpa_err e = text != NULL ? httpa_hash(HTTPA_SHA256, HTTPA_SPAN(text, strlen(text)), out)
                               : HTTPA_ERR_NOMEM;
    free(text);
    json_decref(clean);
    return e;
}

httpa_err httpa_policy_parse(const char *json, size_t len, httpa_policy **out, char *err,
                             size_t err_len)
{
    const lctx l = {err, err_len};
    json_error_t je;
    const char *k = NULL;
    json_t *v = NULL;
    if (out == NULL || (json == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return lfail(&l, "file", root == NULL ? je.text : "must be a JSON object");
    }
    httpa_policy *p = calloc(1, sizeof(*p));
    httpa_err e = p != NULL ? HTTPA_OK : HTTPA_ERR_NOMEM;
    if (e == HTTPA_OK)
        p->status_ok[0] = true; /* UpToDate */
    json_object_foreach(root, k, v) {
        if (e == HTTPA_OK && !is_comment(k))
            e = load_member(&l, p, k, v);
    }
    if (e == HTTPA_OK)
        e = hash_policy(root, p->hash);
    json_decref(root);
    if (e != HTTPA_OK) {
        free(p);
        return e;
    }
    *out = p;
    return HTTPA_OK;
}

httpa_err httpa_policy_load(const char *path, httpa_policy **out, char *err, size_t err_len)
{
    httpa_buf b;
    if (out != NULL)
        *out = NULL;
    httpa_err e = dcap_read_file(path, HTTPA_POLICY_FILE_MAX, &b);
    if (e != HTTPA_OK) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "policy: cannot read %s: %s", path, httpa_strerror(e));
        return e;
    }
    e = httpa_policy_parse((const char *)b.base, b.len, out, err, err_len);
    httpa_buf_free(&b);
    return e;
}

httpa_err httpa_policy_new_default(bool allow_sim, httpa_policy **out)
{
    static const char plain[] = "{\"sgx\":{},\"tdx\":{},\"accepted_tcb_status\":[\"UpToDate\"]}";
    static const char sim[] = "{\"sgx\":{},\"tdx\":{},\"sim\":{},\"allow_simulated\":true,"
                              "\"accepted_tcb_status\":[\"UpToDate\"]}";
    const char *text = allow_sim ? sim : plain;
    return httpa_policy_parse(text, strlen(text), out, NULL, 0);
}

void httpa_policy_free(httpa_policy *p)
{
    free(p);
}

const uint8_t *httpa_policy_hash(const httpa_policy *p)
{
    return p->hash;
}

bool httpa_policy_allows_simulated(const httpa_policy *p)
{
    return p != NULL && p->allow_simulated;
}

/* ---- Evaluation ---- */

static httpa_err reject(httpa_policy_verdict *v, httpa_policy_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static httpa_err reject(httpa_policy_verdict *v, httpa_policy_reason r, const char *fmt, ...)
{
    va_list ap;
    v->reason = r;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return HTTPA_ERR_POLICY_VIOLATION;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool meas_ok(const meas_list *m, const uint8_t *value)
{
    if (!m->set)
        return true;
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->v[i], value, m->len) == 0)
            return true;
    return false;
}

static httpa_err meas_check(httpa_policy_verdict *v, const meas_list *m, const uint8_t *value,
                            httpa_policy_reason r, const char *name)
{
    char h[2 * MEAS_MAX + 1];
    if (meas_ok(m, value))
        return HTTPA_OK;
    hex(value, m->len, h);
    return reject(v, r, "%s %s is not in the policy's list", name, h);
}

static httpa_err eval_sgx(const httpa_policy *p, const httpa_claims *c, httpa_policy_verdict *v)
{
    httpa_err e = meas_check(v, &p->mrenclave, c->sgx.mrenclave,
                             HTTPA_POLICY_MRENCLAVE_NOT_ACCEPTED, "MRENCLAVE");
    if (e == HTTPA_OK)
        e = meas_check(v, &p->mrsigner, c->sgx.mrsigner, HTTPA_POLICY_MRSIGNER_NOT_ACCEPTED,
                       "MRSIGNER");
    if (e == HTTPA_OK && p->has_isvprodid && c->sgx.isvprodid != p->isvprodid)
        e = reject(v, HTTPA_POLICY_ISVPRODID_NOT_ACCEPTED, "ISVPRODID %u, policy wants %u",
                   c->sgx.isvprodid, p->isvprodid);
    if (e == HTTPA_OK && c->sgx.isvsvn < p->min_isvsvn)
        e = reject(v, HTTPA_POLICY_ISVSVN_TOO_LOW, "ISVSVN %u, minimum %u", c->sgx.isvsvn,
                   p->min_isvsvn);
    return e;
}

static httpa_err eval_tdx(const httpa_policy *p, const httpa_claims *c, httpa_policy_verdict *v)
{
    static const char *const names[4] = {"RTMR0", "RTMR1", "RTMR2", "RTMR3"};
    httpa_err e = meas_check(v, &p->mrtd, c->tdx.mrtd, HTTPA_POLICY_MRTD_NOT_ACCEPTED, "MRTD");
    for (size_t i = 0; e == HTTPA_OK && i < 4; i++)
        e = meas_check(v, &p->rtmr[i], c->tdx.rtmr[i], HTTPA_POLICY_RTMR_NOT_ACCEPTED, names[i]);
    return e;
}

static httpa_err eval_sim(const httpa_policy *p, const httpa_claims *c, httpa_policy_verdict *v)
{
    httpa_err e = meas_check(v, &p->sim_measurement, c->sim.measurement,
                             HTTPA_POLICY_SIM_MEASUREMENT_NOT_ACCEPTED, "measurement");
    if (e == HTTPA_OK && c->sim.svn < p->sim_min_svn)
        e = reject(v, HTTPA_POLICY_SIM_SVN_TOO_LOW, "SVN %u, minimum %u", (unsigned)c->sim.svn,
                   (unsigned)p->sim_min_svn);
    return e;
}

static bool advisory_ok(const httpa_policy *p, const char *id)
{
    if (p->any_advisory)
        return true;
    for (size_t i = 0; i < p->nadvisories; i++)
        if (strcmp(p->advisories[i], id) == 0)
            return true;
    return false;
}

/* TCB status, advisories and collateral age: hardware TEEs only. */
static httpa_err eval_tcb(const httpa_policy *p, const httpa_claims *c, int64_t now,
                          httpa_policy_verdict *v)
{
    size_t k = 0;
    while (k < TCB_STATUS_COUNT && !(c->tcb_status != NULL && strcmp(c->tcb_status, TCB_STATUSES[k]) == 0))
        k++;
    if (k == TCB_STATUS_COUNT || !p->status_ok[k])
        return reject(v, HTTPA_POLICY_TCB_STATUS_NOT_ACCEPTED, "TCB status %s is not accepted",
                      c->tcb_status != NULL ? c->tcb_status : "(none)");
    for (size_t i = 0; i < c->nadvisory_ids; i++)
        if (!advisory_ok(p, c->advisory_ids[i]))
            return reject(v, HTTPA_POLICY_ADVISORY_NOT_ALLOWED, "%s is not allowed",
                          c->advisory_ids[i]);
    if (p->max_age != 0 && now - c->collateral_issued > p->max_age)
        return reject(v, HTTPA_POLICY_COLLATERAL_TOO_OLD, "collateral is %lld s old, limit %lld s",
                      (long long)(now - c->collateral_issued), (long long)p->max_age);
    return HTTPA_OK;
}

httpa_err httpa_policy_evaluate(const httpa_policy *p, const httpa_claims *c, int64_t now,
                                httpa_policy_verdict *v)
{
    static const char *const tees[] = {"sgx", "tdx", "sim"};
    *v = (httpa_policy_verdict){.reason = HTTPA_POLICY_OK};
    if (p == NULL || c == NULL)
        return reject(v, HTTPA_POLICY_NO_POLICY, "fail closed");
    if ((unsigned)c->tee >= HTTPA_POLICY_TEE__COUNT || !p->tee[c->tee])
        return reject(v, HTTPA_POLICY_TEE_NOT_ACCEPTED, "no \"%s\" section",
                      (unsigned)c->tee < HTTPA_POLICY_TEE__COUNT ? tees[c->tee] : "?");
    bool sim = c->simulated || c->tee == HTTPA_POLICY_SIM;
    if (sim && !p->allow_simulated)
        return reject(v, HTTPA_POLICY_SIMULATED_FORBIDDEN, "allow_simulated is false");
    if (c->debug && !p->allow_debug)
        return reject(v, HTTPA_POLICY_DEBUG_FORBIDDEN, "allow_debug is false");
    httpa_err e = c->tee == HTTPA_POLICY_SGX   ? eval_sgx(p, c, v)
                  : c->tee == HTTPA_POLICY_TDX ? eval_tdx(p, c, v)
                                               : eval_sim(p, c, v);
    if (e == HTTPA_OK && !sim)
        e = eval_tcb(p, c, now, v);
    return e;
}

/* ---- Verdict cache ---- */

typedef struct cache_entry {
    bool used;
    uint8_t key[64]; /* SHA-256(evidence) || policy hash */
    int64_t stored, expires;
    uint64_t last_use;
    httpa_verdict v;
} cache_entry;

struct httpa_verdict_cache {
    pthread_mutex_t mu;
    size_t cap;
    int64_t ttl;
    uint64_t tick;
    cache_entry *e;
};

#define CACHE_MAX_CAPACITY 65536

httpa_err httpa_verdict_cache_new(size_t capacity, int64_t ttl, httpa_verdict_cache **out)
{
    if (out == NULL || capacity == 0 || capacity > CACHE_MAX_CAPACITY || ttl <= 0)
        return HTTPA_ERR_INVALID_ARG;
    httpa_verdict_cache *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->e = calloc(capacity, sizeof(*c->e));
    if (c == NULL || c->e == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        if (c != NULL)
            free(c->e);
        free(c);
        return HTTPA_ERR_NOMEM;
    }
    c->cap = capacity;
    c->ttl = ttl;
    *out = c;
    return HTTPA_OK;
}

void httpa_verdict_cache_free(httpa_verdict_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c);
}

static void make_key(const uint8_t *eh, const uint8_t *ph, uint8_t key[64])
{
    memcpy(key, eh, 32);
    memcpy(key + 32, ph, 32);
}

/* Live at `now`: not expired, and not stored "in the future" (a clock that
 * went back must not extend an entry's life). */
static bool live(const cache_entry *x, int64_t now)
{
    return x->used && now >= x->stored && now < x->expires;
}

bool httpa_verdict_cache_get(httpa_verdict_cache *c, const uint8_t evidence_hash[32],
                             const uint8_t policy_hash[32], int64_t now, httpa_verdict *out)
{
    uint8_t key[64];
    bool hit = false;
    make_key(evidence_hash, policy_hash, key);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap && !hit; i++) {
        cache_entry *x = &c->e[i];
        if (!x->used || memcmp(x->key, key, sizeof(key)) != 0)
            continue;
        if (!live(x, now)) {
            x->used = false;
            break;
        }
        x->last_use = ++c->tick;
        *out = x->v;
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* The entry with this key, else a free or dead one, else the least
 * recently used. */
static cache_entry *slot_for(httpa_verdict_cache *c, const uint8_t key[64], int64_t now)
{
    cache_entry *free_slot = NULL, *lru = &c->e[0];
    for (size_t i = 0; i < c->cap; i++) {
        cache_entry *x = &c->e[i];
        if (x->used && memcmp(x->key, key, 64) == 0)
            return x;
        if (free_slot == NULL && !live(x, now))
            free_slot = x;
        if (x->last_use < lru->last_use)
            lru = x;
    }
    return free_slot != NULL ? free_slot : lru;
}

void httpa_verdict_cache_put(httpa_verdict_cache *c, const uint8_t evidence_hash[32],
                             const uint8_t policy_hash[32], int64_t now, int64_t expires,
                             const httpa_verdict *v)
{
    uint8_t key[64];
    make_key(evidence_hash, policy_hash, key);
    int64_t until = now > INT64_MAX - c->ttl ? INT64_MAX : now + c->ttl;
    if (expires < until)
        until = expires;
    if (until <= now)
        return; /* would be dead on arrival */
    pthread_mutex_lock(&c->mu);
    cache_entry *x = slot_for(c, key, now);
    x->used = true;
    memcpy(x->key, key, sizeof(key));
    x->stored = now;
    x->expires = until;
    x->last_use = ++c->tick;
    x->v = *v;
    pthread_mutex_unlock(&c->mu);
}

size_t httpa_verdict_cache_size(httpa_verdict_cache *c)
{
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cap; i++)
        n += c->e[i].used;
    pthread_mutex_unlock(&c->mu);
    return n;
}
