/* DCAP collateral from a PCCS or Intel's PCS (v4 API) over libcurl, turned
 * into the collateral JSON of the file loader and cached on disk.
 *
 * The TCB info and QE identity signatures cover the exact octets of the
 * signed object inside the response body, so those octets are cut out of
 * the body (after jansson has validated all of it) rather than re-serialized.
 * Nothing here is trusted: httpa_dcap_verify checks every signature. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "dcap_int.h"
#include "httpa/crypto.h"
#include "httpa/pcs.h"

#define DEFAULT_TIMEOUT_MS 10000
#define URL_MAX 1024
#define MAX_WANTED 2

struct httpa_pcs {
    char *base_url;
    char *root_crl_url;
    char *cache_dir;
    char *ca_file;
    long timeout_ms;
};

static const char *const CA_NAMES[] = {"processor", "platform"};
static const char *const CA_CNS[] = {"Intel SGX PCK Processor CA", "Intel SGX PCK Platform CA"};

static httpa_err fail(httpa_pcs_result *r, httpa_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static httpa_err fail(httpa_pcs_result *r, httpa_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    return e;
}

/* ---- Small decoders ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

httpa_err httpa_pcs_url_decode(const char *in, size_t len, httpa_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)in[i];
        if (c == '%') {
            if (len - i < 3)
                return HTTPA_ERR_BAD_REQUEST;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return HTTPA_ERR_BAD_REQUEST;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        if (httpa_buf_append_u8(out, c) != HTTPA_OK)
            return HTTPA_ERR_TOO_LARGE;
    }
    return HTTPA_OK;
}

static httpa_err hex_encode(const uint8_t *p, size_t n, httpa_buf *out)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t *w = NULL;
    httpa_err e = httpa_buf_extend(out, 2 * n, &w);
    for (size_t i = 0; e == HTTPA_OK && i < n; i++) {
        w[2 * i] = (uint8_t)digits[p[i] >> 4];
        w[2 * i + 1] = (uint8_t)digits[p[i] & 15];
    }
    return e;
}

static bool all_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hexval((char)p[i]) < 0)
            return false;
    return n > 0 && n % 2 == 0;
}

/* A CRL body as hex DER: DER itself, PEM, or hex text (PCCS's rootcacrl). */
static httpa_err crl_hex(httpa_span body, httpa_buf *hex)
{
    size_t n = body.len;
    while (n > 0 && (body.base[n - 1] == '\n' || body.base[n - 1] == '\r'))
        n--;
    if (all_hex(body.base, n))
        return httpa_buf_append(hex, body.base, n);
    if (n > 0 && body.base[0] == 0x30)
        return hex_encode(body.base, body.len, hex);
    BIO *bio = body.len <= INT32_MAX ? BIO_new_mem_buf(body.base, (int)body.len) : NULL;
    X509_CRL *crl = bio != NULL ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int len = crl != NULL ? i2d_X509_CRL(crl, &der) : -1;
    httpa_err e = len > 0 ? hex_encode(der, (size_t)len, hex) : HTTPA_ERR_BAD_QUOTE;
    OPENSSL_free(der);
    X509_CRL_free(crl);
    BIO_free(bio);
    return e;
}

/* ---- The exact text of a member's value ---- */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Index after the string starting at s[i] == '"'. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

/* Index after the value starting at s[i]; the text is valid JSON. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '"')
        return skip_string(s, n, i);
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        size_t depth = 0;
        while (i < n) {
            if (s[i] == '"') {
                i = skip_string(s, n, i);
                continue;
            }
            if (s[i] == '{' || s[i] == '[')
                depth++;
            else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && !strchr(",}] \t\r\n", s[i]))
        i++;
    return i;
}

/* The value of top-level member `key` (written without escapes) in the
 * JSON object text s[0..n). */
static bool raw_member(const char *s, size_t n, const char *key, httpa_span *out)
{
    size_t klen = strlen(key), i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return false;
    for (i = skip_ws(s, n, i + 1); i < n && s[i] == '"'; i = skip_ws(s, n, i + 1)) {
        size_t kend = skip_string(s, n, i);
        bool match = kend - i == klen + 2 && memcmp(s + i + 1, key, klen) == 0;
        i = skip_ws(s, n, kend);
        if (i >= n || s[i] != ':')
            return false;
        i = skip_ws(s, n, i + 1);
        size_t vend = skip_value(s, n, i);
        if (match) {
            *out = HTTPA_SPAN(s + i, vend - i);
            return vend > i;
        }
        i = skip_ws(s, n, vend);
        if (i >= n || s[i] != ',')
            return false;
    }
    return false;
}

/* ---- HTTP ---- */

typedef struct response {
    httpa_buf body;
    const char *wanted[MAX_WANTED]; /* header names to keep */
    httpa_buf header[MAX_WANTED];   /* their raw (URL-encoded) values */
    size_t header_bytes;
    bool too_large;
} response;

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    response *r = arg;
    size_t n = size * nmemb;
    if (httpa_buf_append(&r->body, p, n) != HTTPA_OK) {
        r->too_large = true;
        return 0;
    }
    return n;
}

static bool header_is(const char *line, size_t n, const char *name, size_t *value_at)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return false;
    *value_at = k + 1;
    return true;
}

static void keep_header(response *r, size_t i, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    httpa_buf_reset(&r->header[i]);
    if (httpa_buf_append(&r->header[i], v, n) != HTTPA_OK)
        r->too_large = true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    response *r = arg;
    size_t n = size * nmemb, at = 0;
    r->header_bytes += n;
    if (r->header_bytes > HTTPA_PCS_HEADERS_MAX) {
        r->too_large = true;
        return 0;
    }
    for (size_t i = 0; i < MAX_WANTED; i++)
        if (r->wanted[i] != NULL && header_is(p, n, r->wanted[i], &at))
            keep_header(r, i, p + at, n - at);
    return n;
}

static void response_init(response *r, const char *h0, const char *h1)
{
    memset(r, 0, sizeof(*r));
    httpa_buf_init(&r->body, HTTPA_PCS_BODY_MAX);
    r->wanted[0] = h0;
    r->wanted[1] = h1;
    for (size_t i = 0; i < MAX_WANTED; i++)
        httpa_buf_init(&r->header[i], HTTPA_PCS_HEADERS_MAX);
}

static void response_free(response *r)
{
    httpa_buf_free(&r->body);
    for (size_t i = 0; i < MAX_WANTED; i++)
        httpa_buf_free(&r->header[i]);
}

static bool set_options(const httpa_pcs *p, CURL *c, const char *url, response *r, char *errbuf)
{
    return curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_USERAGENT, "httpa-pcs/1") == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_WRITEDATA, r) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK
           && curl_easy_setopt(c, CURLOPT_HEADERDATA, r) == CURLE_OK
           && (p->ca_file == NULL || curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file) == CURLE_OK);
}

/* GET url; 200 or HTTPA_ERR_NETWORK. */
static httpa_err http_get(const httpa_pcs *p, const char *url, response *r, httpa_pcs_result *res)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return fail(res, HTTPA_ERR_NOMEM, "curl_easy_init failed");
    res->requests++;
    CURLcode cc = set_options(p, c, url, r, errbuf) ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (r->too_large)
        return fail(res, HTTPA_ERR_TOO_LARGE, "GET %s: response larger than the limit", url);
    if (cc != CURLE_OK)
        return fail(res, HTTPA_ERR_NETWORK, "GET %s: %s", url,
                    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    if (status != 200)
        return fail(res, HTTPA_ERR_NETWORK, "GET %s: HTTP status %ld", url, status);
    return HTTPA_OK;
}

/* ---- Collateral pieces ---- */

/* The URL-decoded issuer chain of the first wanted header that came. */
static httpa_err chain_member(response *r, json_t *col, const char *key, const char *url,
                              httpa_pcs_result *res)
{
    httpa_buf pem;
    httpa_buf_init(&pem, HTTPA_PCS_HEADERS_MAX);
    size_t i = r->header[0].len != 0 ? 0 : 1;
    httpa_err e = r->header[i].len != 0 ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
    if (e == HTTPA_OK)
        e = httpa_pcs_url_decode((const char *)r->header[i].base, r->header[i].len, &pem);
    if (e == HTTPA_OK
        && json_object_set_new(col, key, json_stringn((const char *)pem.base, pem.len)) != 0)
        e = HTTPA_ERR_NOMEM;
    httpa_buf_free(&pem);
    if (e != HTTPA_OK)
        return fail(res, HTTPA_ERR_BAD_QUOTE, "GET %s: issuer chain header %s missing or not "
                                              "URL-encoded", url, r->wanted[0]);
    return HTTPA_OK;
}

static httpa_err set_hex_member(json_t *col, const char *key, httpa_span body, const char *url,
                                httpa_pcs_result *res)
{
    httpa_buf hex;
    httpa_buf_init(&hex, 2 * HTTPA_PCS_BODY_MAX);
    httpa_err e = crl_hex(body, &hex);
    if (e == HTTPA_OK
        && json_object_set_new(col, key, json_stringn((const char *)hex.base, hex.len)) != 0)
        e = HTTPA_ERR_NOMEM;
    httpa_buf_free(&hex);
    return e == HTTPA_OK ? e : fail(res, HTTPA_ERR_BAD_QUOTE, "GET %s: not a CRL", url);
}

static httpa_err get_crl(const httpa_pcs *p, const char *url, const char *chain_header,
                         json_t *col, const char *key, httpa_pcs_result *res)
{
    response r;
    response_init(&r, chain_header, NULL);
    httpa_err e = http_get(p, url, &r, res);
    if (e == HTTPA_OK)
        e = set_hex_member(col, key, httpa_buf_span(&r.body), url, res);
    if (e == HTTPA_OK && chain_header != NULL)
        e = chain_member(&r, col, "pck_crl_issuer_chain", url, res);
    response_free(&r);
    return e;
}

/* {"<object>":{...},"signature":"<hex>"}: the exact object text and the
 * signature. */
static httpa_err signed_members(httpa_span body, const char *object, json_t *col,
                                const char *text_key, const char *sig_key, const char *url,
                                httpa_pcs_result *res)
{
    json_error_t je;
    httpa_span raw;
    const char *s = (const char *)body.base;
    json_t *root = json_loadb(s, body.len, JSON_REJECT_DUPLICATES, &je);
    json_t *sig = json_object_get(root, "signature");
    bool ok = json_is_object(json_object_get(root, object)) && json_is_string(sig)
              && raw_member(s, body.len, object, &raw);
    ok = ok && json_object_set_new(col, text_key, json_stringn((const char *)raw.base, raw.len)) == 0
         && json_object_set(col, sig_key, sig) == 0;
    json_decref(root);
    return ok ? HTTPA_OK
              : fail(res, HTTPA_ERR_BAD_QUOTE, "GET %s: want {\"%s\":{...},\"signature\":\"...\"}",
                     url, object);
}

static httpa_err get_signed(const httpa_pcs *p, const char *url, const char *h0, const char *h1,
                            const char *object, json_t *col, const char *prefix,
                            httpa_pcs_result *res)
{
    char text_key[32], sig_key[48], chain_key[48];
    snprintf(text_key, sizeof(text_key), "%s", prefix);
    snprintf(sig_key, sizeof(sig_key), "%s_signature", prefix);
    snprintf(chain_key, sizeof(chain_key), "%s_issuer_chain", prefix);
    response r;
    response_init(&r, h0, h1);
    httpa_err e = http_get(p, url, &r, res);
    if (e == HTTPA_OK)
        e = signed_members(httpa_buf_span(&r.body), object, col, text_key, sig_key, url, res);
    if (e == HTTPA_OK)
        e = chain_member(&r, col, chain_key, url, res);
    response_free(&r);
    return e;
}

static void fmspc_hex(const uint8_t fmspc[6], char out[13])
{
    snprintf(out, 13, "%02X%02X%02X%02X%02X%02X", fmspc[0], fmspc[1], fmspc[2], fmspc[3],
             fmspc[4], fmspc[5]);
}

/* All four requests into the file loader's JSON. */
static httpa_err fetch_json(const httpa_pcs *p, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                            json_t *col, httpa_pcs_result *res)
{
    char url[URL_MAX], fm[13];
    const char *tee = tdx ? "tdx" : "sgx";
    fmspc_hex(fmspc, fm);
    snprintf(url, sizeof(url), "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", p->base_url,
             CA_NAMES[ca]);
    httpa_err e = get_crl(p, url, "SGX-PCK-CRL-Issuer-Chain", col, "pck_crl", res);
    if (e == HTTPA_OK) {
        snprintf(url, sizeof(url), "%s/%s/certification/v4/tcb?fmspc=%s", p->base_url, tee, fm);
        e = get_signed(p, url, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain", "tcbInfo",
                       col, "tcb_info", res);
    }
    if (e == HTTPA_OK) {
        snprintf(url, sizeof(url), "%s/%s/certification/v4/qe/identity", p->base_url, tee);
        e = get_signed(p, url, "SGX-Enclave-Identity-Issuer-Chain", NULL, "enclaveIdentity", col,
                       "qe_identity", res);
    }
    if (e == HTTPA_OK)
        e = get_crl(p, p->root_crl_url, NULL, col, "root_ca_crl", res);
    return e;
}

/* ---- Expiry and the cache ---- */

static int64_t crl_next(X509_CRL *crl)
{
    struct tm tm;
    const ASN1_TIME *t = X509_CRL_get0_nextUpdate(crl);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return dcap_civil_to_unix((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                              (unsigned)tm.tm_mday, (unsigned)tm.tm_hour, (unsigned)tm.tm_min,
                              (unsigned)tm.tm_sec);
}

int64_t httpa_dcap_collateral_expiry(const httpa_dcap_collateral *c)
{
    if (c == NULL)
        return 0;
    int64_t e = c->tcb.next_update;
    const int64_t others[] = {c->qe.next_update, crl_next(c->root_crl), crl_next(c->pck_crl)};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        e = others[i] < e ? others[i] : e;
    return e;
}

static bool crl_from_ca(X509_CRL *crl, httpa_pcs_ca ca)
{
    char cn[128];
    int n = X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, cn,
                                      (int)sizeof(cn));
    return n > 0 && strcmp(cn, CA_CNS[ca]) == 0;
}

/* The collateral is for what was asked (a misplaced file is no hit). */
static bool matches(const httpa_dcap_collateral *c, bool tdx, const uint8_t fmspc[6],
                    httpa_pcs_ca ca)
{
    return c->tcb.tdx == tdx && c->qe.td_qe == tdx && memcmp(c->tcb.fmspc, fmspc, 6) == 0
           && crl_from_ca(c->pck_crl, ca);
}

static bool cache_path(const httpa_pcs *p, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                       char *out, size_t cap)
{
    char fm[13];
    fmspc_hex(fmspc, fm);
    int n = snprintf(out, cap, "%s/%s-%s-%s.json", p->cache_dir, tdx ? "tdx" : "sgx", fm,
                     CA_NAMES[ca]);
    return n > 0 && (size_t)n < cap;
}

static bool cache_get(const char *path, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                      int64_t now, httpa_dcap_collateral **out)
{
    httpa_dcap_collateral *c = NULL;
    if (httpa_dcap_collateral_load(path, &c, NULL) != HTTPA_OK)
        return false;
    if (!matches(c, tdx, fmspc, ca) || now >= httpa_dcap_collateral_expiry(c)) {
        httpa_dcap_collateral_free(c);
        return false;
    }
    *out = c;
    return true;
}

static httpa_err write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return HTTPA_ERR_IO;
        s += k;
        n -= (size_t)k;
    }
    return HTTPA_OK;
}

/* Write to a fresh temporary name in the same directory, then rename: a
 * reader sees the old file or the new one, never half of one. */
static httpa_err cache_put(const char *path, const char *text, httpa_pcs_result *res)
{
    char tmp[600];
    uint8_t r[6];
    if (httpa_random(r, sizeof(r)) != HTTPA_OK)
        return fail(res, HTTPA_ERR_LIBRARY, "no randomness");
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld.%02x%02x%02x%02x%02x%02x.tmp", path, (long)getpid(),
                     r[0], r[1], r[2], r[3], r[4], r[5]);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return fail(res, HTTPA_ERR_IO, "cache path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(res, HTTPA_ERR_IO, "cache: create %s: %s", tmp, strerror(errno));
    httpa_err e = write_all(fd, text, strlen(text));
    if (e == HTTPA_OK && fsync(fd) != 0)
        e = HTTPA_ERR_IO;
    int err = e != HTTPA_OK ? errno : 0;
    if (close(fd) != 0 && e == HTTPA_OK) {
        err = errno;
        e = HTTPA_ERR_IO;
    }
    if (e == HTTPA_OK && rename(tmp, path) != 0) {
        err = errno;
        e = HTTPA_ERR_IO;
    }
    if (e != HTTPA_OK) {
        unlink(tmp);
        return fail(res, e, "cache: write %s: %s", path, strerror(err));
    }
    return HTTPA_OK;
}

/* ---- Public ---- */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void httpa_pcs_free(httpa_pcs *p)
{
    if (p == NULL)
        return;
    free(p->base_url);
    free(p->root_crl_url);
    free(p->cache_dir);
    free(p->ca_file);
    free(p);
}

static httpa_err ensure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return HTTPA_ERR_IO;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? HTTPA_OK : HTTPA_ERR_IO;
}

httpa_err httpa_pcs_new(const httpa_pcs_config *cfg, httpa_pcs **out)
{
    if (cfg == NULL || out == NULL || cfg->base_url == NULL || cfg->timeout_ms < 0
        || strlen(cfg->base_url) > URL_MAX / 2)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if (cfg->cache_dir != NULL && ensure_dir(cfg->cache_dir) != HTTPA_OK)
        return HTTPA_ERR_IO;
    httpa_pcs *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return HTTPA_ERR_NOMEM;
    size_t n = strlen(cfg->base_url);
    p->base_url = strdup(cfg->base_url);
    if (p->base_url != NULL && n > 0 && p->base_url[n - 1] == '/')
        p->base_url[n - 1] = '\0';
    char root[URL_MAX];
    snprintf(root, sizeof(root), "%s/sgx/certification/v4/rootcacrl",
             p->base_url != NULL ? p->base_url : "");
    p->root_crl_url = strdup(cfg->root_crl_url != NULL ? cfg->root_crl_url : root);
    p->cache_dir = dup_or_null(cfg->cache_dir);
    p->ca_file = dup_or_null(cfg->ca_file);
    p->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (p->base_url == NULL || p->root_crl_url == NULL || (cfg->cache_dir && !p->cache_dir)
        || (cfg->ca_file && !p->ca_file)) {
        httpa_pcs_free(p);
        return HTTPA_ERR_NOMEM;
    }
    *out = p;
    return HTTPA_OK;
}

/* Fetch, parse with the file loader's parser, cache when fresh. */
static httpa_err fetch(httpa_pcs *p, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                       int64_t now, httpa_dcap_collateral **out, httpa_pcs_result *res)
{
    json_t *col = json_object();
    httpa_err e = col != NULL ? fetch_json(p, tdx, fmspc, ca, col, res) : HTTPA_ERR_NOMEM;
    char *text = e == HTTPA_OK ? json_dumps(col, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(col);
    if (e == HTTPA_OK && text == NULL)
        e = HTTPA_ERR_NOMEM;
    httpa_dcap_diag d = {.reason = HTTPA_DCAP_OK};
    if (e == HTTPA_OK && httpa_dcap_collateral_parse(text, strlen(text), out, &d) != HTTPA_OK)
        e = fail(res, HTTPA_ERR_BAD_QUOTE, "collateral from %s: %s", p->base_url, d.detail);
    if (e == HTTPA_OK && !matches(*out, tdx, fmspc, ca))
        e = fail(res, HTTPA_ERR_BAD_QUOTE, "collateral from %s is for another TEE type, FMSPC "
                                           "or PCK CA", p->base_url);
    if (e == HTTPA_OK)
        res->expires = httpa_dcap_collateral_expiry(*out);
    if (e == HTTPA_OK && res->cache_file[0] != '\0' && now < res->expires)
        e = cache_put(res->cache_file, text, res);
    free(text);
    if (e != HTTPA_OK) {
        httpa_dcap_collateral_free(*out);
        *out = NULL;
    }
    return e;
}

httpa_err httpa_pcs_get(httpa_pcs *p, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                        int64_t now, httpa_dcap_collateral **out, httpa_pcs_result *res)
{
    httpa_pcs_result local;
    httpa_pcs_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof(*r));
    if (p == NULL || fmspc == NULL || out == NULL || (unsigned)ca > HTTPA_PCS_CA_PLATFORM)
        return fail(r, HTTPA_ERR_INVALID_ARG, "missing argument");
    *out = NULL;
    if (p->cache_dir != NULL
        && !cache_path(p, tdx, fmspc, ca, r->cache_file, sizeof(r->cache_file)))
        return fail(r, HTTPA_ERR_INVALID_ARG, "cache path too long");
    if (r->cache_file[0] != '\0' && cache_get(r->cache_file, tdx, fmspc, ca, now, out)) {
        r->from_cache = true;
        r->expires = httpa_dcap_collateral_expiry(*out);
        return HTTPA_OK;
    }
    return fetch(p, tdx, fmspc, ca, now, out, r);
}

/* FMSPC, TEE type and CA type of the platform that made `quote`. */
static httpa_err quote_platform(httpa_span quote, uint8_t fmspc[6], bool *tdx, httpa_pcs_ca *ca,
                                httpa_pcs_result *r)
{
    httpa_dcap_quote q;
    httpa_dcap_diag d = {.reason = HTTPA_DCAP_OK};
    if (httpa_dcap_quote_parse(quote, &q, &d) != HTTPA_OK || !dcap_quote_fmspc(quote, fmspc, tdx))
        return fail(r, HTTPA_ERR_BAD_QUOTE, "quote: %s", d.detail[0] ? d.detail
                                                          : "no FMSPC in its PCK certificate");
    STACK_OF(X509) *chain = dcap_pem_chain(q.pck_chain_pem.base, q.pck_chain_pem.len, 4);
    char cn[128] = "";
    if (chain != NULL)
        X509_NAME_get_text_by_NID(X509_get_issuer_name(sk_X509_value(chain, 0)), NID_commonName,
                                  cn, (int)sizeof(cn));
    sk_X509_pop_free(chain, X509_free);
    for (unsigned i = 0; i <= HTTPA_PCS_CA_PLATFORM; i++)
        if (strcmp(cn, CA_CNS[i]) == 0) {
            *ca = (httpa_pcs_ca)i;
            return HTTPA_OK;
        }
    return fail(r, HTTPA_ERR_BAD_QUOTE, "quote: PCK certificate issuer \"%s\" is neither PCK CA",
                cn);
}

httpa_err httpa_pcs_get_for_quote(httpa_pcs *p, httpa_span quote, int64_t now,
                                  httpa_dcap_collateral **out, httpa_pcs_result *res)
{
    httpa_pcs_result local;
    httpa_pcs_result *r = res != NULL ? res : &local;
    uint8_t fmspc[6];
    bool tdx = false;
    httpa_pcs_ca ca = HTTPA_PCS_CA_PROCESSOR;
    memset(r, 0, sizeof(*r));
    httpa_err e = quote_platform(quote, fmspc, &tdx, &ca, r);
    return e == HTTPA_OK ? httpa_pcs_get(p, tdx, fmspc, ca, now, out, res) : e;
}
