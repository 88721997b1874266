/* DCAP collateral in the JSON format of shared/vectors/dcap (the format a
 * PCCS client such as dcap-qvl stores): hex DER CRLs, PEM issuer chains, and
 * the TCB info and QE identity as the exact JSON text Intel signed, with hex
 * r || s signatures.
 *
 * The signed texts are parsed here only to read them; their signatures are
 * checked by dcap_verify.c before anything parsed from them is used. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dcap_int.h"

#define COLLATERAL_FILE_MAX (1024 * 1024)
#define CHAIN_MAX 4
#define ADVISORY_MAX_PER_LEVEL 64

static const char *const STATUS_NAMES[] = {
    [HTTPA_TCB_UP_TO_DATE] = "UpToDate",
    [HTTPA_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
    [HTTPA_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
    [HTTPA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
    [HTTPA_TCB_OUT_OF_DATE] = "OutOfDate",
    [HTTPA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
    [HTTPA_TCB_REVOKED] = "Revoked",
};
#define STATUS_COUNT (sizeof(STATUS_NAMES) / sizeof(STATUS_NAMES[0]))

const char *httpa_dcap_tcb_status_name(httpa_dcap_tcb_status s)
{
    return (size_t)s < STATUS_COUNT ? STATUS_NAMES[s] : "Unknown";
}

/* ---- Small strict decoders ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool dcap_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n)
{
    if (hex == NULL || hex_len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Days from 1970-01-01 to y-m-d (Gregorian), after H. Hinnant's
 * days_from_civil: exact for every year, no tables, no time zones. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t dcap_civil_to_unix(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi,
                           unsigned s)
{
    return days_from_civil(y, mon, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* `n` decimal digits at s; false on anything else. */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

httpa_err httpa_dcap_parse_date(const char *s, size_t len, int64_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    unsigned y, mo, d, h, mi, se;
    if (s == NULL || out == NULL || len != sizeof(shape) - 1)
        return HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 0; i < len; i++)
        if (shape[i] != 'd' && s[i] != shape[i])
            return HTTPA_ERR_BAD_REQUEST;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d)
        || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return HTTPA_ERR_BAD_REQUEST;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
        || mi > 59 || se > 59)
        return HTTPA_ERR_BAD_REQUEST;
    *out = dcap_civil_to_unix(y, mo, d, h, mi, se);
    return HTTPA_OK;
}

httpa_err dcap_read_file(const char *path, size_t max, httpa_buf *out)
{
    httpa_buf_init(out, max);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return HTTPA_ERR_IO;
    httpa_err e = HTTPA_OK;
    uint8_t chunk[4096];
    size_t n = 0;
    while (e == HTTPA_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        e = httpa_buf_append(out, chunk, n);
    if (e == HTTPA_OK && ferror(f))
        e = HTTPA_ERR_IO;
    fclose(f);
    if (e != HTTPA_OK)
        httpa_buf_free(out);
    return e;
}

/* ---- PEM chains ---- */

static const char PEM_BEGIN[] = "-----BEGIN CERTIFICATE-----";
static const char PEM_END[] = "-----END CERTIFICATE-----";

static bool blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; (size_t)(end - p) >= n; p++)
        if (memcmp(p, needle, n) == 0)
            return p;
    return NULL;
}

/* One "-----BEGIN ... END-----" block, decoded by OpenSSL. */
static X509 *pem_block(const uint8_t *p, size_t len)
{
    if (len > INT_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(p, (int)len);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

/* PEM_read_bio_X509 alone would skip any text between certificates; the
 * blocks are delimited here so that nothing but white space may sit there. */
STACK_OF(X509) *dcap_pem_chain(const uint8_t *pem, size_t len, int max)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    const uint8_t *p = pem, *end = pem + len;
    while (chain != NULL) {
        while (p < end && blank(*p))
            p++;
        if (p == end)
            break;
        const uint8_t *stop = find(p, end, PEM_END);
        X509 *x = NULL;
        if ((size_t)(end - p) < sizeof(PEM_BEGIN) - 1
            || memcmp(p, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0 || stop == NULL
            || sk_X509_num(chain) >= max
            || (x = pem_block(p, (size_t)(stop - p) + sizeof(PEM_END) - 1)) == NULL
            || !sk_X509_push(chain, x)) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return NULL;
        }
        p = stop + sizeof(PEM_END) - 1;
    }
    if (chain != NULL && sk_X509_num(chain) == 0) {
        sk_X509_free(chain);
        chain = NULL;
    }
    return chain;
}

/* The base64 body of one block (white space dropped) into `der`. */
static bool block_der(const uint8_t *p, const uint8_t *stop, httpa_buf *der)
{
    httpa_buf b64;
    httpa_buf_init(&b64, (size_t)(stop - p));
    bool ok = true;
    for (const uint8_t *c = p + sizeof(PEM_BEGIN) - 1; ok && c < stop; c++)
        if (!blank(*c))
            ok = httpa_buf_append_u8(&b64, *c) == HTTPA_OK;
    size_t n = b64.len, pad = n >= 2 ? (b64.base[n - 1] == '=') + (b64.base[n - 2] == '=') : 0;
    uint8_t *w = NULL;
    ok = ok && n != 0 && n % 4 == 0 && n <= INT_MAX
         && httpa_buf_extend(der, n / 4 * 3, &w) == HTTPA_OK
         && EVP_DecodeBlock(w, b64.base, (int)n) == (int)(n / 4 * 3);
    if (ok)
        der->len -= pad;
    httpa_buf_free(&b64);
    return ok;
}

bool dcap_pem_ders(const uint8_t *pem, size_t len, httpa_buf *out, size_t max, size_t *n)
{
    const uint8_t *p = pem, *end = pem + len;
    for (size_t i = 0; i < max; i++)
        httpa_buf_init(&out[i], len);
    for (*n = 0;; (*n)++) {
        while (p < end && blank(*p))
            p++;
        if (p == end)
            return *n != 0;
        const uint8_t *stop = find(p, end, PEM_END);
        if (*n == max || (size_t)(end - p) < sizeof(PEM_BEGIN) - 1
            || memcmp(p, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0 || stop == NULL
            || !block_der(p, stop, &out[*n]))
            return false;
        p = stop + sizeof(PEM_END) - 1;
    }
}

/* ---- JSON helpers: each names the member it rejects ---- */

typedef struct jctx {
    const char *where; /* "tcbInfo", "qeIdentity", "collateral" */
    httpa_dcap_diag *diag;
} jctx;

static httpa_err bad(const jctx *j, const char *key, const char *what)
{
    return dcap_fail(j->diag, HTTPA_DCAP_COLLATERAL_MALFORMED, "%s.%s: %s", j->where, key, what);
}

static httpa_err get_str(const jctx *j, json_t *o, const char *key, const char **s, size_t *len)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return bad(j, key, "missing or not a string");
    *s = json_string_value(v);
    *len = json_string_length(v);
    return HTTPA_OK;
}

static httpa_err get_int(const jctx *j, json_t *o, const char *key, int64_t lo, int64_t hi,
                         int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(j, key, "missing, not an integer or out of range");
    *out = (int64_t)json_integer_value(v);
    return HTTPA_OK;
}

static httpa_err get_hex(const jctx *j, json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = NULL;
    size_t len = 0;
    httpa_err e = get_str(j, o, key, &s, &len);
    if (e == HTTPA_OK && !dcap_hex_decode(s, len, out, n))
        e = bad(j, key, "not hex of the expected length");
    return e;
}

static httpa_err get_date(const jctx *j, json_t *o, const char *key, int64_t *out)
{
    const char *s = NULL;
    size_t len = 0;
    httpa_err e = get_str(j, o, key, &s, &len);
    if (e == HTTPA_OK && httpa_dcap_parse_date(s, len, out) != HTTPA_OK)
        e = bad(j, key, "not a YYYY-MM-DDThh:mm:ssZ date");
    return e;
}

static httpa_err get_status(const jctx *j, json_t *o, httpa_dcap_tcb_status *out)
{
    const char *s = NULL;
    size_t len = 0;
    httpa_err e = get_str(j, o, "tcbStatus", &s, &len);
    if (e != HTTPA_OK)
        return e;
    for (size_t i = 0; i < STATUS_COUNT; i++)
        if (strlen(STATUS_NAMES[i]) == len && memcmp(STATUS_NAMES[i], s, len) == 0) {
            *out = (httpa_dcap_tcb_status)i;
            return HTTPA_OK;
        }
    return bad(j, "tcbStatus", "unknown TCB status");
}

static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return len > 0;
}

/* Optional advisoryIDs: short printable strings (they are copied into
 * fixed-size result slots). */
static httpa_err get_advisories(const jctx *j, json_t *o, json_t **out)
{
    json_t *a = json_object_get(o, "advisoryIDs"), *v;
    size_t i;
    *out = NULL;
    if (a == NULL)
        return HTTPA_OK;
    if (!json_is_array(a) || json_array_size(a) > ADVISORY_MAX_PER_LEVEL)
        return bad(j, "advisoryIDs", "not an array of at most 64 strings");
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) >= HTTPA_DCAP_ADVISORY_LEN
            || !printable(json_string_value(v), json_string_length(v)))
            return bad(j, "advisoryIDs", "an entry is not a short printable string");
    }
    *out = a;
    return HTTPA_OK;
}

static httpa_err get_array(const jctx *j, json_t *o, const char *key, size_t min, size_t max,
                           json_t **out)
{
    *out = json_object_get(o, key);
    if (!json_is_array(*out) || json_array_size(*out) < min || json_array_size(*out) > max)
        return bad(j, key, "missing, not an array, or of the wrong size");
    return HTTPA_OK;
}

static httpa_err get_object(const jctx *j, json_t *o, const char *key, json_t **out)
{
    *out = json_object_get(o, key);
    return json_is_object(*out) ? HTTPA_OK : bad(j, key, "missing or not an object");
}

/* ---- QE identity and TDX module levels: {"tcb":{"isvsvn":N}, ...} ---- */

static httpa_err parse_isv_level(const jctx *j, json_t *o, dcap_isv_level *l)
{
    json_t *tcb = NULL;
    int64_t svn = 0, date;
    httpa_err e = json_is_object(o) ? HTTPA_OK : bad(j, "tcbLevels", "entry not an object");
    if (e == HTTPA_OK)
        e = get_object(j, o, "tcb", &tcb);
    if (e == HTTPA_OK)
        e = get_int(j, tcb, "isvsvn", 0, UINT16_MAX, &svn);
    if (e == HTTPA_OK)
        e = get_date(j, o, "tcbDate", &date);
    if (e == HTTPA_OK)
        e = get_status(j, o, &l->status);
    if (e == HTTPA_OK)
        e = get_advisories(j, o, &l->advisories);
    l->isvsvn = (uint16_t)svn;
    return e;
}

static httpa_err parse_isv_levels(const jctx *j, json_t *o, dcap_isv_level **out, size_t *n)
{
    json_t *arr, *v;
    size_t i;
    httpa_err e = get_array(j, o, "tcbLevels", 1, DCAP_MAX_LEVELS, &arr);
    if (e != HTTPA_OK)
        return e;
    *out = calloc(json_array_size(arr), sizeof(**out));
    if (*out == NULL)
        return HTTPA_ERR_NOMEM;
    *n = json_array_size(arr);
    json_array_foreach(arr, i, v) {
        e = parse_isv_level(j, v, &(*out)[i]);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

/* ---- TCB info v3 ---- */

/* 16 component objects {"svn": 0..255, ...}; other members (category,
 * type) are descriptive. */
static httpa_err parse_components(const jctx *j, json_t *tcb, const char *key, uint8_t *svn)
{
    json_t *arr, *v;
    size_t i;
    httpa_err e = get_array(j, tcb, key, DCAP_SVN_COUNT, DCAP_SVN_COUNT, &arr);
    json_array_foreach(arr, i, v) {
        int64_t x = 0;
        if (e == HTTPA_OK)
            e = json_is_object(v) ? get_int(j, v, "svn", 0, UINT8_MAX, &x)
                                  : bad(j, key, "component not an object");
        svn[i] = (uint8_t)x;
    }
    return e;
}

static httpa_err parse_tcb_level(const jctx *j, json_t *o, bool tdx, dcap_tcb_level *l)
{
    json_t *tcb = NULL;
    int64_t pcesvn = 0, date;
    httpa_err e = json_is_object(o) ? get_object(j, o, "tcb", &tcb)
                                    : bad(j, "tcbLevels", "entry not an object");
    if (e == HTTPA_OK)
        e = parse_components(j, tcb, "sgxtcbcomponents", l->sgx_svn);
    if (e == HTTPA_OK)
        e = get_int(j, tcb, "pcesvn", 0, UINT16_MAX, &pcesvn);
    if (e == HTTPA_OK && tdx)
        e = parse_components(j, tcb, "tdxtcbcomponents", l->tdx_svn);
    if (e == HTTPA_OK)
        e = get_date(j, o, "tcbDate", &date);
    if (e == HTTPA_OK)
        e = get_status(j, o, &l->status);
    if (e == HTTPA_OK)
        e = get_advisories(j, o, &l->advisories);
    l->pcesvn = (uint16_t)pcesvn;
    l->has_tdx = tdx;
    return e;
}

static httpa_err parse_module_fields(const jctx *j, json_t *o, dcap_tdx_module *m)
{
    httpa_err e = get_hex(j, o, "mrsigner", m->mrsigner, sizeof(m->mrsigner));
    if (e == HTTPA_OK)
        e = get_hex(j, o, "attributes", m->attributes, sizeof(m->attributes));
    if (e == HTTPA_OK)
        e = get_hex(j, o, "attributesMask", m->attributes_mask, sizeof(m->attributes_mask));
    return e;
}

static httpa_err parse_module_identity(const jctx *j, json_t *o, dcap_tdx_module *m)
{
    const char *id = NULL;
    size_t len = 0;
    httpa_err e = json_is_object(o) ? get_str(j, o, "id", &id, &len)
                                    : bad(j, "tdxModuleIdentities", "entry not an object");
    if (e == HTTPA_OK && (len == 0 || len >= sizeof(m->id) || !printable(id, len)))
        e = bad(j, "tdxModuleIdentities.id", "empty, too long or not printable");
    if (e != HTTPA_OK)
        return e;
    memcpy(m->id, id, len);
    e = parse_module_fields(j, o, m);
    return e == HTTPA_OK ? parse_isv_levels(j, o, &m->levels, &m->nlevels) : e;
}

/* tdxModule (required for TDX) and tdxModuleIdentities (optional). */
static httpa_err parse_tdx_module(const jctx *j, json_t *o, dcap_tcb_info *t)
{
    json_t *mod, *ids, *v;
    size_t i;
    httpa_err e = get_object(j, o, "tdxModule", &mod);
    if (e == HTTPA_OK)
        e = parse_module_fields(j, mod, &t->module);
    if (e != HTTPA_OK || json_object_get(o, "tdxModuleIdentities") == NULL)
        return e;
    e = get_array(j, o, "tdxModuleIdentities", 1, DCAP_MAX_MODULES, &ids);
    if (e != HTTPA_OK)
        return e;
    t->identities = calloc(json_array_size(ids), sizeof(*t->identities));
    if (t->identities == NULL)
        return HTTPA_ERR_NOMEM;
    t->nidentities = json_array_size(ids);
    json_array_foreach(ids, i, v) {
        e = parse_module_identity(j, v, &t->identities[i]);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

static httpa_err parse_tcb_id(const jctx *j, json_t *o, dcap_tcb_info *t)
{
    const char *id = NULL;
    size_t len = 0;
    int64_t version, type, eval;
    httpa_err e = get_str(j, o, "id", &id, &len);
    if (e == HTTPA_OK && !(len == 3 && (memcmp(id, "SGX", 3) == 0 || memcmp(id, "TDX", 3) == 0)))
        e = bad(j, "id", "neither SGX nor TDX");
    if (e == HTTPA_OK)
        e = get_int(j, o, "version", 3, 3, &version);
    if (e == HTTPA_OK)
        e = get_int(j, o, "tcbType", 0, 0, &type);
    if (e == HTTPA_OK)
        e = get_int(j, o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &eval);
    if (e == HTTPA_OK)
        t->tdx = id[0] == 'T';
    return e;
}

static httpa_err parse_tcb_info(json_t *o, dcap_tcb_info *t, httpa_dcap_diag *d)
{
    const jctx j = {"tcbInfo", d};
    json_t *levels, *v;
    size_t i;
    httpa_err e = json_is_object(o) ? parse_tcb_id(&j, o, t) : bad(&j, "", "not an object");
    if (e == HTTPA_OK)
        e = get_date(&j, o, "issueDate", &t->issue_date);
    if (e == HTTPA_OK)
        e = get_date(&j, o, "nextUpdate", &t->next_update);
    if (e == HTTPA_OK)
        e = get_hex(&j, o, "fmspc", t->fmspc, sizeof(t->fmspc));
    if (e == HTTPA_OK)
        e = get_hex(&j, o, "pceId", t->pceid, sizeof(t->pceid));
    if (e == HTTPA_OK && t->tdx)
        e = parse_tdx_module(&j, o, t);
    if (e == HTTPA_OK)
        e = get_array(&j, o, "tcbLevels", 1, DCAP_MAX_LEVELS, &levels);
    if (e != HTTPA_OK)
        return e;
    t->levels = calloc(json_array_size(levels), sizeof(*t->levels));
    if (t->levels == NULL)
        return HTTPA_ERR_NOMEM;
    t->nlevels = json_array_size(levels);
    json_array_foreach(levels, i, v) {
        e = parse_tcb_level(&j, v, t->tdx, &t->levels[i]);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

/* ---- QE identity v2 ---- */

static httpa_err parse_qe_id(const jctx *j, json_t *o, dcap_qe_identity *q)
{
    const char *id = NULL;
    size_t len = 0;
    int64_t version, eval;
    httpa_err e = get_str(j, o, "id", &id, &len);
    if (e == HTTPA_OK && !((len == 2 && memcmp(id, "QE", 2) == 0)
                           || (len == 5 && memcmp(id, "TD_QE", 5) == 0)))
        e = bad(j, "id", "neither QE nor TD_QE");
    if (e == HTTPA_OK)
        e = get_int(j, o, "version", 2, 2, &version);
    if (e == HTTPA_OK)
        e = get_int(j, o, "tcbEvaluationDataNumber", 0, UINT32_MAX, &eval);
    if (e == HTTPA_OK)
        q->td_qe = len == 5;
    return e;
}

/* miscselect is written as a big-endian number ("0000000F"). */
static httpa_err get_u32_hex(const jctx *j, json_t *o, const char *key, uint32_t *out)
{
    uint8_t b[4];
    httpa_err e = get_hex(j, o, key, b, sizeof(b));
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return e;
}

static httpa_err parse_qe_identity(json_t *o, dcap_qe_identity *q, httpa_dcap_diag *d)
{
    const jctx j = {"qeIdentity", d};
    int64_t prodid = 0;
    httpa_err e = json_is_object(o) ? parse_qe_id(&j, o, q) : bad(&j, "", "not an object");
    if (e == HTTPA_OK)
        e = get_date(&j, o, "issueDate", &q->issue_date);
    if (e == HTTPA_OK)
        e = get_date(&j, o, "nextUpdate", &q->next_update);
    if (e == HTTPA_OK)
        e = get_u32_hex(&j, o, "miscselect", &q->miscselect);
    if (e == HTTPA_OK)
        e = get_u32_hex(&j, o, "miscselectMask", &q->miscselect_mask);
    if (e == HTTPA_OK)
        e = get_hex(&j, o, "attributes", q->attributes, sizeof(q->attributes));
    if (e == HTTPA_OK)
        e = get_hex(&j, o, "attributesMask", q->attributes_mask, sizeof(q->attributes_mask));
    if (e == HTTPA_OK)
        e = get_hex(&j, o, "mrsigner", q->mrsigner, sizeof(q->mrsigner));
    if (e == HTTPA_OK)
        e = get_int(&j, o, "isvprodid", 0, UINT16_MAX, &prodid);
    q->isvprodid = (uint16_t)prodid;
    return e == HTTPA_OK ? parse_isv_levels(&j, o, &q->levels, &q->nlevels) : e;
}

/* ---- The collateral file ---- */

static httpa_err get_chain(const jctx *j, json_t *o, const char *key, STACK_OF(X509) **out)
{
    const char *s = NULL;
    size_t len = 0;
    httpa_err e = get_str(j, o, key, &s, &len);
    if (e == HTTPA_OK && (*out = dcap_pem_chain((const uint8_t *)s, len, CHAIN_MAX)) == NULL)
        e = bad(j, key, "not a PEM certificate chain");
    if (e == HTTPA_OK && sk_X509_num(*out) != 2)
        e = bad(j, key, "not exactly two certificates (signer, root)");
    return e;
}

static httpa_err get_crl(const jctx *j, json_t *o, const char *key, X509_CRL **out)
{
    const char *s = NULL;
    size_t len = 0;
    httpa_buf der;
    httpa_err e = get_str(j, o, key, &s, &len);
    if (e != HTTPA_OK)
        return e;
    httpa_buf_init(&der, len / 2 + 1);
    uint8_t *w;
    e = httpa_buf_extend(&der, len / 2, &w);
    if (e == HTTPA_OK && (len % 2 != 0 || !dcap_hex_decode(s, len, w, len / 2)))
        e = bad(j, key, "not hex");
    const unsigned char *p = der.base;
    if (e == HTTPA_OK && ((*out = d2i_X509_CRL(NULL, &p, (long)der.len)) == NULL
                          || p != der.base + der.len))
        e = bad(j, key, "not a DER CRL");
    httpa_buf_free(&der);
    return e;
}

/* A signed JSON text: keep the exact octets (the signature covers them)
 * and parse a copy for reading. */
static httpa_err get_signed(const jctx *j, json_t *o, const char *key, const char *sig_key,
                            char **text, size_t *text_len, uint8_t sig[64], json_t **parsed)
{
    const char *s = NULL;
    size_t len = 0;
    json_error_t je;
    httpa_err e = get_str(j, o, key, &s, &len);
    if (e == HTTPA_OK)
        e = get_hex(j, o, sig_key, sig, 64);
    if (e != HTTPA_OK)
        return e;
    if ((*text = malloc(len + 1)) == NULL)
        return HTTPA_ERR_NOMEM;
    memcpy(*text, s, len);
    (*text)[len] = '\0';
    *text_len = len;
    *parsed = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    return *parsed != NULL ? HTTPA_OK : bad(j, key, "not JSON");
}

static httpa_err parse_members(json_t *root, httpa_dcap_collateral *c, httpa_dcap_diag *d)
{
    const jctx j = {"collateral", d};
    httpa_err e = get_chain(&j, root, "pck_crl_issuer_chain", &c->pck_crl_chain);
    if (e == HTTPA_OK)
        e = get_chain(&j, root, "tcb_info_issuer_chain", &c->tcb_chain);
    if (e == HTTPA_OK)
        e = get_chain(&j, root, "qe_identity_issuer_chain", &c->qe_chain);
    if (e == HTTPA_OK)
        e = get_crl(&j, root, "root_ca_crl", &c->root_crl);
    if (e == HTTPA_OK)
        e = get_crl(&j, root, "pck_crl", &c->pck_crl);
    if (e == HTTPA_OK)
        e = get_signed(&j, root, "tcb_info", "tcb_info_signature", &c->tcb_text,
                       &c->tcb_text_len, c->tcb_sig, &c->tcb_json);
    if (e == HTTPA_OK)
        e = get_signed(&j, root, "qe_identity", "qe_identity_signature", &c->qe_text,
                       &c->qe_text_len, c->qe_sig, &c->qe_json);
    if (e == HTTPA_OK)
        e = parse_tcb_info(c->tcb_json, &c->tcb, d);
    if (e == HTTPA_OK)
        e = parse_qe_identity(c->qe_json, &c->qe, d);
    return e;
}

httpa_err httpa_dcap_collateral_parse(const char *json, size_t len, httpa_dcap_collateral **out,
                                      httpa_dcap_diag *diag)
{
    json_error_t je;
    if (out == NULL || (json == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return dcap_fail(diag, HTTPA_DCAP_COLLATERAL_MALFORMED, "not a JSON object: %s", je.text);
    }
    httpa_dcap_collateral *c = calloc(1, sizeof(*c));
    if (c != NULL && pthread_mutex_init(&c->memo.mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    httpa_err e = c != NULL ? parse_members(root, c, diag) : HTTPA_ERR_NOMEM;
    json_decref(root);
    if (e != HTTPA_OK) {
        if (e == HTTPA_ERR_NOMEM)
            dcap_fail(diag, HTTPA_DCAP_INTERNAL, "out of memory");
        httpa_dcap_collateral_free(c);
        return e == HTTPA_ERR_NOMEM ? e : HTTPA_ERR_BAD_QUOTE;
    }
    if (diag != NULL)
        *diag = (httpa_dcap_diag){.reason = HTTPA_DCAP_OK};
    *out = c;
    return HTTPA_OK;
}

httpa_err httpa_dcap_collateral_load(const char *path, httpa_dcap_collateral **out,
                                     httpa_dcap_diag *diag)
{
    httpa_buf b;
    httpa_err e = dcap_read_file(path, COLLATERAL_FILE_MAX, &b);
    if (e != HTTPA_OK) {
        dcap_fail(diag, HTTPA_DCAP_COLLATERAL_MALFORMED, "cannot read %s: %s", path,
                  httpa_strerror(e));
        return e;
    }
    e = httpa_dcap_collateral_parse((const char *)b.base, b.len, out, diag);
    httpa_buf_free(&b);
    return e;
}

static void free_module(dcap_tdx_module *m)
{
    free(m->levels);
}

void httpa_dcap_collateral_free(httpa_dcap_collateral *c)
{
    if (c == NULL)
        return;
    sk_X509_pop_free(c->pck_crl_chain, X509_free);
    sk_X509_pop_free(c->tcb_chain, X509_free);
    sk_X509_pop_free(c->qe_chain, X509_free);
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    free(c->tcb_text);
    free(c->qe_text);
    json_decref(c->tcb_json);
    json_decref(c->qe_json);
    for (size_t i = 0; i < c->tcb.nidentities; i++)
        free_module(&c->tcb.identities[i]);
    free(c->tcb.identities);
    free(c->tcb.levels);
    free(c->qe.levels);
    dcap_memo_clear_leaves(&c->memo);
    pthread_mutex_destroy(&c->memo.mu);
    free(c);
}
