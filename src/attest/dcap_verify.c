/* DCAP quote verification: the checks of Intel's Quote Verification Library
 * (QVL), in a fixed order, each failure with its own reason.
 *
 * Trust flows from one pinned certificate, the Intel SGX Root CA, embedded
 * below. Every chain (PCK, PCK CRL issuer, TCB info and QE identity signers)
 * must end in a certificate byte-identical to it; a root that arrives in a
 * quote or in collateral is compared, never trusted. OpenSSL does the X.509
 * path validation (with both CRLs, at the caller's time) and every signature
 * check; this file only decides what to check and in which order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dcap_int.h"
#include "httpa/crypto.h"

/* The Intel SGX Root CA (CN=Intel SGX Root CA, valid 2018-05-21 to
 * 2049-12-31, SHA-256 fingerprint 44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:
 * 7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3). A public
 * certificate: pinning it is what makes every other certificate meaningful. */
static const char INTEL_ROOT_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";

#define SGX_EXT_OID "1.2.840.113741.1.13.1"
#define CN_PCK_LEAF "Intel SGX PCK Certificate"
#define CN_PCK_PLATFORM "Intel SGX PCK Platform CA"
#define CN_PCK_PROCESSOR "Intel SGX PCK Processor CA"
#define CN_TCB_SIGNING "Intel SGX TCB Signing"
#define PCK_CHAIN_LEN 3
#define SGX_ATTR_DEBUG 0x02 /* ATTRIBUTES.DEBUG, bit 1 */
#define TD_ATTR_DEBUG 0x01  /* TD_ATTRIBUTES.DEBUG, bit 0 */

/* ---- Reasons ---- */

static const char *const REASON_NAMES[] = {
#define HTTPA_DCAP_X(name, text) #name,
    HTTPA_DCAP_REASONS(HTTPA_DCAP_X)
#undef HTTPA_DCAP_X
};
static const char *const REASON_TEXTS[] = {
#define HTTPA_DCAP_X(name, text) text,
    HTTPA_DCAP_REASONS(HTTPA_DCAP_X)
#undef HTTPA_DCAP_X
};

const char *httpa_dcap_reason_name(httpa_dcap_reason r)
{
    return (unsigned)r < HTTPA_DCAP_REASON__COUNT ? REASON_NAMES[r] : "UNKNOWN";
}

const char *httpa_dcap_reason_text(httpa_dcap_reason r)
{
    return (unsigned)r < HTTPA_DCAP_REASON__COUNT ? REASON_TEXTS[r] : "unknown reason";
}

httpa_err dcap_fail(httpa_dcap_diag *d, httpa_dcap_reason r, const char *fmt, ...)
{
    if (d != NULL) {
        va_list ap;
        d->reason = r;
        va_start(ap, fmt);
        vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
        va_end(ap);
    }
    return HTTPA_ERR_BAD_QUOTE;
}

/* ---- Trust anchor ---- */

struct httpa_dcap_trust {
    X509 *root;
    uint8_t *der; /* the pinned encoding, compared byte for byte */
    size_t der_len;
    uint8_t fp[32]; /* SHA-256 of der: names the anchor in collateral memos */
};

void httpa_dcap_trust_free(httpa_dcap_trust *t)
{
    if (t == NULL)
        return;
    X509_free(t->root);
    OPENSSL_free(t->der);
    free(t);
}

static httpa_err trust_from_pem(const char *pem, size_t len, httpa_dcap_trust **out)
{
    *out = NULL;
    STACK_OF(X509) *one = dcap_pem_chain((const uint8_t *)pem, len, 1);
    httpa_dcap_trust *t = calloc(1, sizeof(*t));
    httpa_err e = one != NULL && t != NULL ? HTTPA_OK : HTTPA_ERR_INVALID_ARG;
    if (e == HTTPA_OK) {
        t->root = sk_X509_shift(one);
        unsigned char *der = NULL;
        int n = i2d_X509(t->root, &der);
        t->der = der;
        t->der_len = n > 0 ? (size_t)n : 0;
        /* An anchor must be self-signed; anything else is a configuration error. */
        if (n <= 0 || X509_check_issued(t->root, t->root) != X509_V_OK
            || X509_verify(t->root, X509_get0_pubkey(t->root)) != 1
            || httpa_hash(HTTPA_SHA256, HTTPA_SPAN(t->der, t->der_len), t->fp) != HTTPA_OK)
            e = HTTPA_ERR_INVALID_ARG;
    }
    sk_X509_pop_free(one, X509_free);
    ERR_clear_error();
    if (e != HTTPA_OK)
        httpa_dcap_trust_free(t);
    else
        *out = t;
    return e;
}

httpa_err httpa_dcap_trust_new_intel(httpa_dcap_trust **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = trust_from_pem(INTEL_ROOT_PEM, sizeof(INTEL_ROOT_PEM) - 1, out);
    return e == HTTPA_OK ? e : HTTPA_ERR_LIBRARY;
}

httpa_err httpa_dcap_trust_new_test_root(const char *pem, size_t len, httpa_dcap_trust **out)
{
    if (out == NULL || pem == NULL)
        return HTTPA_ERR_INVALID_ARG;
    return trust_from_pem(pem, len, out);
}

/* x's DER is exactly der[0..len). */
static bool der_is(X509 *x, const uint8_t *der, size_t len)
{
    unsigned char *mine = NULL;
    int n = i2d_X509(x, &mine);
    bool same = n > 0 && (size_t)n == len && memcmp(mine, der, len) == 0;
    OPENSSL_free(mine);
    return same;
}

static bool same_der(X509 *a, X509 *b)
{
    unsigned char *der = NULL;
    int n = i2d_X509(b, &der);
    bool same = n > 0 && der_is(a, der, (size_t)n);
    OPENSSL_free(der);
    return same;
}

static bool is_pinned(const httpa_dcap_trust *t, X509 *x)
{
    return der_is(x, t->der, t->der_len);
}

/* ---- Small OpenSSL helpers ---- */

static bool asn1_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = dcap_civil_to_unix((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                              (unsigned)tm.tm_mday, (unsigned)tm.tm_hour, (unsigned)tm.tm_min,
                              (unsigned)tm.tm_sec);
    return true;
}

static bool has_cn(X509 *x, const char *cn)
{
    char buf[128];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf,
                                      (int)sizeof(buf));
    return n > 0 && (size_t)n == strlen(cn) && memcmp(buf, cn, (size_t)n) == 0;
}

/* r || s (64 octets) to a DER ECDSA-Sig-Value; 0 on failure. */
static size_t sig_to_der(const uint8_t sig[64], uint8_t *der, size_t cap)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
    if (s == NULL || r == NULL || sv == NULL || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return 0;
    }
    int n = i2d_ECDSA_SIG(s, NULL);
    unsigned char *p = der;
    size_t len = n > 0 && (size_t)n <= cap && i2d_ECDSA_SIG(s, &p) == n ? (size_t)n : 0;
    ECDSA_SIG_free(s);
    return len;
}

static bool is_p256(EVP_PKEY *k)
{
    char group[32];
    return k != NULL && EVP_PKEY_is_a(k, "EC")
           && EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                             NULL)
           && strcmp(group, "prime256v1") == 0;
}

/* ECDSA P-256 / SHA-256 signature (r || s) by a certificate's key. */
static bool cert_verify(X509 *cert, const void *msg, size_t len, const uint8_t sig[64])
{
    uint8_t der[80];
    size_t der_len = sig_to_der(sig, der, sizeof(der));
    EVP_PKEY *key = X509_get0_pubkey(cert);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = der_len != 0 && is_p256(key) && ctx != NULL
              && EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) == 1
              && EVP_DigestVerify(ctx, der, der_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* X.509 path validation of `leaf` up to the pinned root only, at `now`, with
 * the CRLs applied to every certificate of the path. Returns the X509_V_ERR
 * code (X509_V_OK) and the depth it concerns. */
static int path_verify(const httpa_dcap_trust *t, X509 *leaf, STACK_OF(X509) *untrusted,
                       X509_CRL *crl1, X509_CRL *crl2, int64_t now, int *depth)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int err = X509_V_ERR_UNSPECIFIED;
    *depth = 0;
    if (st != NULL && ctx != NULL && X509_STORE_add_cert(st, t->root)
        && (crl1 == NULL || X509_STORE_add_crl(st, crl1))
        && (crl2 == NULL || X509_STORE_add_crl(st, crl2))
        && X509_STORE_CTX_init(ctx, st, leaf, untrusted)) {
        X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
        /* Strict RFC 5280 checks too: Intel's certificates conform, so a
         * deviation can only come from somewhere else. */
        X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL
                                           | X509_V_FLAG_X509_STRICT);
        X509_VERIFY_PARAM_set_time(p, (time_t)now);
        err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
        *depth = X509_STORE_CTX_get_error_depth(ctx);
        if (err == X509_V_OK && sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) < 2)
            err = X509_V_ERR_UNSPECIFIED; /* the leaf itself can never be the anchor */
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    ERR_clear_error();
    return err;
}

/* Reasons shared by every chain; `other` for the rest. */
static httpa_err path_fail(httpa_dcap_diag *d, int err, int depth, const char *chain,
                           httpa_dcap_reason revoked, httpa_dcap_reason other)
{
    httpa_dcap_reason r = other;
    if (err == X509_V_ERR_CERT_REVOKED)
        r = revoked;
    else if (err == X509_V_ERR_CERT_HAS_EXPIRED)
        r = HTTPA_DCAP_CERT_EXPIRED;
    else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
        r = HTTPA_DCAP_CERT_NOT_YET_VALID;
    else if (err == X509_V_ERR_UNABLE_TO_GET_CRL)
        r = HTTPA_DCAP_CRL_MISSING;
    return dcap_fail(d, r, "%s, depth %d: %s", chain, depth, X509_verify_cert_error_string(err));
}

/* ---- Verification context ---- */

typedef struct pck_ext {
    uint8_t fmspc[6];
    uint8_t pceid[2];
    uint8_t comps[16];
    uint16_t pcesvn;
} pck_ext;

typedef struct vctx {
    const httpa_dcap_trust *trust;
    const httpa_dcap_collateral *col;
    int64_t now;
    httpa_dcap_quote q;
    bool tdx;
    STACK_OF(X509) *pck; /* leaf, CA, root */
    pck_ext ext;
    const dcap_tcb_level *level;
    const dcap_isv_level *qe_level;
    const dcap_isv_level *module_level; /* NULL for TDX 1.0 modules and SGX */
    bool memo_hit; /* the collateral's memo holds for this anchor at this time */
    bool leaf_known; /* the PCK leaf is a memoized one, valid now */
    bool have_leaf_hash;
    uint8_t leaf_hash[32]; /* SHA-256 of the PCK leaf's DER */
    httpa_dcap_result *out;
} vctx;

/* ---- 0. Collateral for the right TEE ---- */

/* First, so that collateral for the other TEE gets its own reason rather
 * than whichever later check it happens to break. */
static httpa_err check_collateral_kind(vctx *v)
{
    const httpa_dcap_collateral *c = v->col;
    if (c->tcb.tdx != v->tdx)
        return dcap_fail(&v->out->diag, HTTPA_DCAP_COLLATERAL_TEE_MISMATCH,
                         "TCB info is for %s, the quote is %s", c->tcb.tdx ? "TDX" : "SGX",
                         v->tdx ? "TDX" : "SGX");
    if (c->qe.td_qe != v->tdx)
        return dcap_fail(&v->out->diag, HTTPA_DCAP_QE_IDENTITY_MISMATCH,
                         "QE identity is for %s", c->qe.td_qe ? "TD_QE" : "QE");
    return HTTPA_OK;
}

/* ---- 1. Freshness of the collateral ---- */

static httpa_err window(httpa_dcap_diag *d, int64_t now, int64_t from, int64_t to,
                        httpa_dcap_reason early, httpa_dcap_reason late)
{
    if (now < from)
        return dcap_fail(d, early, "verification time %lld is before %lld", (long long)now,
                         (long long)from);
    if (now > to)
        return dcap_fail(d, late, "verification time %lld is after %lld", (long long)now,
                         (long long)to);
    return HTTPA_OK;
}

static httpa_err crl_window(vctx *v, X509_CRL *crl, httpa_dcap_reason early,
                            httpa_dcap_reason late, int64_t *issued, int64_t *next)
{
    if (!asn1_to_unix(X509_CRL_get0_lastUpdate(crl), issued)
        || !asn1_to_unix(X509_CRL_get0_nextUpdate(crl), next))
        return dcap_fail(&v->out->diag, late, "CRL without thisUpdate/nextUpdate");
    return window(&v->out->diag, v->now, *issued, *next, early, late);
}

/* TCB info first: Intel's QVL and the reference verifier of expected.json
 * name stale collateral by it, so the same quote gets the same reason. */
static httpa_err check_freshness(vctx *v)
{
    const httpa_dcap_collateral *c = v->col;
    httpa_dcap_diag *d = &v->out->diag;
    int64_t root_from, root_to, pck_from, pck_to;
    httpa_err e = window(d, v->now, c->tcb.issue_date, c->tcb.next_update,
                         HTTPA_DCAP_TCB_INFO_NOT_YET_VALID, HTTPA_DCAP_TCB_INFO_EXPIRED);
    if (e == HTTPA_OK)
        e = window(d, v->now, c->qe.issue_date, c->qe.next_update,
                   HTTPA_DCAP_QE_IDENTITY_NOT_YET_VALID, HTTPA_DCAP_QE_IDENTITY_EXPIRED);
    if (e == HTTPA_OK)
        e = crl_window(v, c->root_crl, HTTPA_DCAP_ROOT_CRL_NOT_YET_VALID,
                       HTTPA_DCAP_ROOT_CRL_EXPIRED, &root_from, &root_to);
    if (e == HTTPA_OK)
        e = crl_window(v, c->pck_crl, HTTPA_DCAP_PCK_CRL_NOT_YET_VALID,
                       HTTPA_DCAP_PCK_CRL_EXPIRED, &pck_from, &pck_to);
    if (e != HTTPA_OK)
        return e;
    /* The root CA CRL is reissued about yearly, so it is left out of the
     * collateral's age; it still bounds how long a verdict may be cached. */
    int64_t issued = c->tcb.issue_date < c->qe.issue_date ? c->tcb.issue_date : c->qe.issue_date;
    v->out->collateral_issued = pck_from < issued ? pck_from : issued;
    int64_t exp = c->tcb.next_update;
    const int64_t others[] = {c->qe.next_update, root_to, pck_to};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        exp = others[i] < exp ? others[i] : exp;
    v->out->collateral_expires = exp;
    return HTTPA_OK;
}

/* ---- The collateral memo (dcap_int.h) ---- */

static void memo_check(vctx *v)
{
    dcap_memo *m = &((httpa_dcap_collateral *)v->col)->memo;
    pthread_mutex_lock(&m->mu);
    v->memo_hit = m->valid && memcmp(m->anchor, v->trust->fp, 32) == 0
                  && v->now >= m->not_before && v->now <= m->not_after;
    pthread_mutex_unlock(&m->mu);
}

/* Where all of `certs` are valid; false when a date cannot be read. */
static bool validity(X509 *const *certs, size_t n, int64_t *from, int64_t *to)
{
    *from = INT64_MIN;
    *to = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int64_t a, b;
        if (!asn1_to_unix(X509_get0_notBefore(certs[i]), &a)
            || !asn1_to_unix(X509_get0_notAfter(certs[i]), &b))
            return false;
        *from = a > *from ? a : *from;
        *to = b < *to ? b : *to;
    }
    return true;
}

/* After steps 2 and 3 passed in full: what they established, for later. */
static void memo_store(vctx *v)
{
    const httpa_dcap_collateral *c = v->col;
    dcap_memo *m = &((httpa_dcap_collateral *)c)->memo;
    X509 *const certs[] = {v->trust->root, sk_X509_value(c->pck_crl_chain, 0),
                           sk_X509_value(c->tcb_chain, 0), sk_X509_value(c->qe_chain, 0)};
    int64_t from, to;
    if (!validity(certs, sizeof(certs) / sizeof(certs[0]), &from, &to))
        return;
    pthread_mutex_lock(&m->mu);
    if (!m->valid || memcmp(m->anchor, v->trust->fp, 32) != 0) {
        memcpy(m->anchor, v->trust->fp, 32);
        m->pck_crl_accepted = false;
        dcap_memo_clear_leaves(m);
    }
    m->valid = true;
    m->not_before = from;
    m->not_after = to;
    pthread_mutex_unlock(&m->mu);
}

void dcap_memo_clear_leaves(dcap_memo *m)
{
    for (size_t i = 0; i < m->nleaves; i++)
        X509_free(m->leaves[i].leaf);
    memset(m->leaves, 0, sizeof(m->leaves));
    m->nleaves = m->next = 0;
}

static dcap_memo *memo_of(const vctx *v)
{
    return &((httpa_dcap_collateral *)v->col)->memo;
}

/* Under mu: the memo is for this anchor and its PCK CRL was accepted. */
static bool memo_usable(const dcap_memo *m, const vctx *v)
{
    return m->valid && m->pck_crl_accepted && memcmp(m->anchor, v->trust->fp, 32) == 0;
}

/* A reference to the memoized leaf with this DER hash, valid at now. */
static X509 *memo_find_leaf(const vctx *v)
{
    dcap_memo *m = memo_of(v);
    X509 *found = NULL;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; memo_usable(m, v) && found == NULL && i < m->nleaves; i++) {
        const dcap_memo_leaf *l = &m->leaves[i];
        if (memcmp(l->der_hash, v->leaf_hash, 32) == 0 && v->now >= l->not_before
            && v->now <= l->not_after && X509_up_ref(l->leaf))
            found = l->leaf;
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

static void memo_add_leaf(const vctx *v, X509 *leaf)
{
    dcap_memo *m = memo_of(v);
    int64_t from, to;
    if (!v->have_leaf_hash || !validity(&leaf, 1, &from, &to))
        return;
    pthread_mutex_lock(&m->mu);
    bool known = false;
    for (size_t i = 0; i < m->nleaves && !known; i++)
        known = memcmp(m->leaves[i].der_hash, v->leaf_hash, 32) == 0;
    if (memo_usable(m, v) && !known && X509_up_ref(leaf)) {
        dcap_memo_leaf *l = &m->leaves[m->next];
        if (m->next < m->nleaves)
            X509_free(l->leaf);
        else
            m->nleaves++;
        *l = (dcap_memo_leaf){.leaf = leaf, .not_before = from, .not_after = to};
        memcpy(l->der_hash, v->leaf_hash, 32);
        m->next = (m->next + 1) % DCAP_MEMO_LEAVES;
    }
    pthread_mutex_unlock(&m->mu);
}

static void memo_accept_pck_crl(vctx *v)
{
    dcap_memo *m = &((httpa_dcap_collateral *)v->col)->memo;
    pthread_mutex_lock(&m->mu);
    if (m->valid && memcmp(m->anchor, v->trust->fp, 32) == 0)
        m->pck_crl_accepted = true;
    pthread_mutex_unlock(&m->mu);
}

static bool memo_pck_crl_accepted(vctx *v)
{
    dcap_memo *m = memo_of(v);
    pthread_mutex_lock(&m->mu);
    bool ok = memo_usable(m, v);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

/* ---- 2. CRLs and their issuers ---- */

static httpa_err check_crls(vctx *v)
{
    const httpa_dcap_collateral *c = v->col;
    httpa_dcap_diag *d = &v->out->diag;
    X509 *root = v->trust->root;
    memo_check(v);
    if (v->memo_hit)
        return HTTPA_OK; /* steps 2 and 3 passed before, and every certificate is valid now */
    if (X509_NAME_cmp(X509_CRL_get_issuer(c->root_crl), X509_get_subject_name(root)) != 0
        || X509_CRL_verify(c->root_crl, X509_get0_pubkey(root)) != 1) {
        ERR_clear_error();
        return dcap_fail(d, HTTPA_DCAP_ROOT_CRL_INVALID, "root CA CRL");
    }
    X509 *ca = sk_X509_value(c->pck_crl_chain, 0);
    if (!is_pinned(v->trust, sk_X509_value(c->pck_crl_chain, 1)))
        return dcap_fail(d, HTTPA_DCAP_PCK_CRL_CHAIN_UNTRUSTED_ROOT, "pck_crl_issuer_chain");
    int depth, err = path_verify(v->trust, ca, NULL, c->root_crl, NULL, v->now, &depth);
    if (err != X509_V_OK)
        return path_fail(d, err, depth, "PCK CRL issuer chain", HTTPA_DCAP_PCK_CA_REVOKED,
                         HTTPA_DCAP_PCK_CRL_CHAIN_INVALID);
    if (X509_NAME_cmp(X509_CRL_get_issuer(c->pck_crl), X509_get_subject_name(ca)) != 0
        || X509_CRL_verify(c->pck_crl, X509_get0_pubkey(ca)) != 1) {
        ERR_clear_error();
        return dcap_fail(d, HTTPA_DCAP_PCK_CRL_INVALID, "PCK CRL");
    }
    return HTTPA_OK;
}

/* ---- 3. TCB info and QE identity: signer chain and signature ---- */

typedef struct signed_doc {
    const char *name;
    STACK_OF(X509) *chain;
    const char *text;
    size_t len;
    const uint8_t *sig;
    httpa_dcap_reason untrusted, invalid, bad_sig;
} signed_doc;

static httpa_err check_signed(vctx *v, const signed_doc *s)
{
    httpa_dcap_diag *d = &v->out->diag;
    X509 *signer = sk_X509_value(s->chain, 0);
    if (!is_pinned(v->trust, sk_X509_value(s->chain, 1)))
        return dcap_fail(d, s->untrusted, "%s issuer chain", s->name);
    /* Only the TCB signing key may sign collateral: a PCK leaf also chains
     * to the root, and its key lives on a platform. */
    if (!has_cn(signer, CN_TCB_SIGNING))
        return dcap_fail(d, s->invalid, "%s signer is not \"" CN_TCB_SIGNING "\"", s->name);
    int depth, err = path_verify(v->trust, signer, NULL, v->col->root_crl, NULL, v->now, &depth);
    if (err != X509_V_OK)
        return path_fail(d, err, depth, s->name, HTTPA_DCAP_SIGNING_CERT_REVOKED, s->invalid);
    if (!cert_verify(signer, s->text, s->len, s->sig))
        return dcap_fail(d, s->bad_sig, "%s", s->name);
    return HTTPA_OK;
}

static httpa_err check_collateral_signatures(vctx *v)
{
    const httpa_dcap_collateral *c = v->col;
    const signed_doc tcb = {"TCB info", c->tcb_chain, c->tcb_text, c->tcb_text_len, c->tcb_sig,
                            HTTPA_DCAP_TCB_INFO_CHAIN_UNTRUSTED_ROOT,
                            HTTPA_DCAP_TCB_INFO_CHAIN_INVALID,
                            HTTPA_DCAP_TCB_INFO_SIGNATURE_INVALID};
    const signed_doc qe = {"QE identity", c->qe_chain, c->qe_text, c->qe_text_len, c->qe_sig,
                           HTTPA_DCAP_QE_IDENTITY_CHAIN_UNTRUSTED_ROOT,
                           HTTPA_DCAP_QE_IDENTITY_CHAIN_INVALID,
                           HTTPA_DCAP_QE_IDENTITY_SIGNATURE_INVALID};
    if (v->memo_hit)
        return HTTPA_OK;
    httpa_err e = check_signed(v, &tcb);
    if (e == HTTPA_OK)
        e = check_signed(v, &qe);
    if (e == HTTPA_OK)
        memo_store(v);
    return e;
}

/* ---- 4. PCK certificate chain ---- */

/* The PCK CA is the collateral's (byte for byte), whose signature, chain
 * and revocation status the memo vouches for, and its CRL has already been
 * accepted by OpenSSL for a leaf: path validation of the leaf up to that CA
 * (strict, at `now`) plus the leaf's revocation check is then the whole of
 * what is left. false: take the complete path, which names any failure. */
static bool pck_leaf_fast(vctx *v, X509 *leaf, X509 *ca)
{
    if (!v->memo_hit || !same_der(ca, sk_X509_value(v->col->pck_crl_chain, 0))
        || !memo_pck_crl_accepted(v))
        return false;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = st != NULL && ctx != NULL && X509_STORE_add_cert(st, ca)
              && X509_STORE_CTX_init(ctx, st, leaf, NULL);
    if (ok) {
        X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
        X509_VERIFY_PARAM_set_time(p, (time_t)v->now);
        ok = X509_verify_cert(ctx) == 1 && sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) == 2;
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_REVOKED *rev = NULL;
    ok = ok && X509_CRL_get0_by_cert(v->col->pck_crl, &rev, leaf) == 0;
    ERR_clear_error();
    return ok;
}

static bool push_ref(STACK_OF(X509) *s, X509 *x)
{
    if (x == NULL || !X509_up_ref(x))
        return false;
    if (sk_X509_push(s, x))
        return true;
    X509_free(x);
    return false;
}

/* The quote's chain, decoding only what is new: when its second and third
 * certificates are byte for byte the collateral's PCK CA (memoized) and the
 * pinned root, they are not decoded again (decoding a certificate is the
 * costliest step left) and only the leaf is. NULL: take the general path. */
static STACK_OF(X509) *known_chain(vctx *v)
{
    httpa_buf der[PCK_CHAIN_LEN + 1];
    size_t n = 0;
    X509 *ca = sk_X509_value(v->col->pck_crl_chain, 0), *leaf = NULL;
    if (!v->memo_hit)
        return NULL;
    bool ok = dcap_pem_ders(v->q.pck_chain_pem.base, v->q.pck_chain_pem.len, der,
                            PCK_CHAIN_LEN + 1, &n);
    ok = ok && n == PCK_CHAIN_LEN && der_is(ca, der[1].base, der[1].len)
         && der[2].len == v->trust->der_len
         && memcmp(der[2].base, v->trust->der, der[2].len) == 0;
    v->have_leaf_hash = ok && httpa_hash(HTTPA_SHA256, httpa_buf_span(&der[0]), v->leaf_hash)
                                  == HTTPA_OK;
    leaf = v->have_leaf_hash ? memo_find_leaf(v) : NULL;
    v->leaf_known = leaf != NULL;
    if (ok && leaf == NULL) {
        const unsigned char *p = der[0].base;
        leaf = d2i_X509(NULL, &p, (long)der[0].len);
        ok = leaf != NULL && p == der[0].base + der[0].len;
    }
    STACK_OF(X509) *s = ok ? sk_X509_new_null() : NULL;
    if (s != NULL && (!sk_X509_push(s, leaf) || !push_ref(s, ca) || !push_ref(s, v->trust->root))) {
        if (sk_X509_num(s) == 0)
            X509_free(leaf);
        sk_X509_pop_free(s, X509_free);
        s = NULL;
    } else if (s == NULL) {
        X509_free(leaf);
    }
    for (size_t i = 0; i < PCK_CHAIN_LEN + 1; i++)
        httpa_buf_free(&der[i]);
    ERR_clear_error();
    return s;
}

static httpa_err check_pck_chain(vctx *v)
{
    httpa_dcap_diag *d = &v->out->diag;
    v->pck = known_chain(v);
    if (v->pck == NULL)
        v->pck = dcap_pem_chain(v->q.pck_chain_pem.base, v->q.pck_chain_pem.len,
                                PCK_CHAIN_LEN + 1);
    if (v->pck == NULL || sk_X509_num(v->pck) != PCK_CHAIN_LEN)
        return dcap_fail(d, HTTPA_DCAP_PCK_CHAIN_MALFORMED, "want leaf, PCK CA and root PEM");
    X509 *leaf = sk_X509_value(v->pck, 0), *ca = sk_X509_value(v->pck, 1);
    if (!is_pinned(v->trust, sk_X509_value(v->pck, 2)))
        return dcap_fail(d, HTTPA_DCAP_PCK_CHAIN_UNTRUSTED_ROOT, "PCK chain root");
    if (!has_cn(leaf, CN_PCK_LEAF) || !(has_cn(ca, CN_PCK_PLATFORM) || has_cn(ca, CN_PCK_PROCESSOR)))
        return dcap_fail(d, HTTPA_DCAP_PCK_CHAIN_INVALID, "unexpected subject names");
    if (X509_NAME_cmp(X509_CRL_get_issuer(v->col->pck_crl), X509_get_subject_name(ca)) != 0)
        return dcap_fail(d, HTTPA_DCAP_PCK_CRL_ISSUER_MISMATCH, "PCK CRL is not for this PCK CA");
    if (v->leaf_known)
        return HTTPA_OK; /* validated before with this collateral, and valid now */
    if (pck_leaf_fast(v, leaf, ca)) {
        memo_add_leaf(v, leaf);
        return HTTPA_OK;
    }
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    if (untrusted == NULL || !sk_X509_push(untrusted, ca)) {
        sk_X509_free(untrusted);
        return dcap_fail(d, HTTPA_DCAP_INTERNAL, "out of memory");
    }
    int depth, err = path_verify(v->trust, leaf, untrusted, v->col->root_crl, v->col->pck_crl,
                                 v->now, &depth);
    sk_X509_free(untrusted);
    if (err != X509_V_OK)
        return path_fail(d, err, depth, "PCK chain",
                         depth == 0 ? HTTPA_DCAP_PCK_CERT_REVOKED : HTTPA_DCAP_PCK_CA_REVOKED,
                         HTTPA_DCAP_PCK_CHAIN_INVALID);
    if (same_der(ca, sk_X509_value(v->col->pck_crl_chain, 0))) {
        memo_accept_pck_crl(v);
        memo_add_leaf(v, leaf);
    }
    return HTTPA_OK;
}

/* ---- 5. QE report and quote signatures ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static httpa_err check_signatures(vctx *v)
{
    httpa_dcap_diag *d = &v->out->diag;
    const httpa_dcap_quote *q = &v->q;
    if (!cert_verify(sk_X509_value(v->pck, 0), q->qe_report_raw.base, q->qe_report_raw.len,
                     q->qe_report_signature))
        return dcap_fail(d, HTTPA_DCAP_QE_REPORT_SIGNATURE_INVALID, "QE report");
    /* The QE vouches for the attestation key through its REPORTDATA:
     * SHA-256(attestation key || QE authentication data) || 32 zero octets. */
    uint8_t h[32];
    const httpa_span parts[] = {HTTPA_SPAN(q->attestation_key, 64), q->qe_auth_data};
    if (httpa_hashv(HTTPA_SHA256, parts, 2, h) != HTTPA_OK)
        return dcap_fail(d, HTTPA_DCAP_INTERNAL, "SHA-256");
    if (!httpa_ct_equal(h, q->qe_report.report_data, 32)
        || !all_zero(q->qe_report.report_data + 32, 32))
        return dcap_fail(d, HTTPA_DCAP_QE_REPORT_DATA_MISMATCH, "QE REPORTDATA");
    uint8_t pub[65] = {0x04};
    memcpy(pub + 1, q->attestation_key, 64);
    if (httpa_verify(HTTPA_ECDSA_P256_SHA256, HTTPA_SPAN(pub, 65), q->signed_part,
                     HTTPA_SPAN(q->signature, 64))
        != HTTPA_OK)
        return dcap_fail(d, HTTPA_DCAP_QUOTE_SIGNATURE_INVALID, "quote header and body");
    return HTTPA_OK;
}

/* ---- 6. The SGX extension of the PCK certificate ---- */

/* The DER content of SGX_EXT_OID (1.2.840.113741.1.13.1); its members add
 * one arc, the TCB components two (each arc below 128: one octet). */
static const uint8_t SGX_EXT_DER[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/* 0 unless `o` is SGX_EXT_OID followed by exactly `narcs` (1 or 2) small
 * arcs; then the last arc (and *first the first one). Octets, not text. */
static unsigned sgx_arc(const ASN1_OBJECT *o, size_t narcs, unsigned *first)
{
    const unsigned char *p = OBJ_get0_data(o);
    size_t n = OBJ_length(o), base = sizeof(SGX_EXT_DER);
    if (p == NULL || n != base + narcs || memcmp(p, SGX_EXT_DER, base) != 0)
        return 0;
    for (size_t i = base; i < n; i++)
        if (p[i] >= 0x80)
            return 0;
    if (first != NULL)
        *first = p[base];
    return p[n - 1];
}

/* The members of a DER SEQUENCE held in an ASN1_TYPE. */
static STACK_OF(ASN1_TYPE) *members(const ASN1_TYPE *t)
{
    if (t == NULL || t->type != V_ASN1_SEQUENCE)
        return NULL;
    const unsigned char *p = t->value.sequence->data;
    const unsigned char *end = p + t->value.sequence->length;
    STACK_OF(ASN1_TYPE) *s = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
    if (s != NULL && p != end) {
        sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
        s = NULL;
    }
    return s;
}

static bool octets(const ASN1_TYPE *t, uint8_t *out, size_t n)
{
    if (t->type != V_ASN1_OCTET_STRING || (size_t)t->value.octet_string->length != n)
        return false;
    memcpy(out, t->value.octet_string->data, n);
    return true;
}

static bool integer(const ASN1_TYPE *t, int64_t max, int64_t *out)
{
    return t->type == V_ASN1_INTEGER && ASN1_INTEGER_get_int64(out, t->value.integer) == 1
           && *out >= 0 && *out <= max;
}

/* Bits of `seen`: 1..16 components, 17 PCESVN, 18 CPUSVN. */
static bool tcb_entry(const ASN1_OBJECT *oid, const ASN1_TYPE *val, pck_ext *x, uint32_t *seen)
{
    int64_t n;
    uint8_t cpusvn[16];
    unsigned first = 0, last = sgx_arc(oid, 2, &first);
    for (unsigned i = 1; i <= 18; i++) {
        if (first != 2 || last != i)
            continue;
        if ((*seen & 1u << i) != 0)
            return false;
        *seen |= 1u << i;
        if (i <= 16 && integer(val, UINT8_MAX, &n))
            x->comps[i - 1] = (uint8_t)n;
        else if (i == 17 && integer(val, UINT16_MAX, &n))
            x->pcesvn = (uint16_t)n;
        else if (i != 18 || !octets(val, cpusvn, sizeof(cpusvn)))
            return false;
        return true;
    }
    return true; /* an unknown TCB member: ignored */
}

/* SEQUENCE { OID, value } */
static bool pair(const ASN1_TYPE *t, STACK_OF(ASN1_TYPE) **s, const ASN1_OBJECT **oid,
                 const ASN1_TYPE **val)
{
    *s = members(t);
    if (*s == NULL || sk_ASN1_TYPE_num(*s) != 2
        || sk_ASN1_TYPE_value(*s, 0)->type != V_ASN1_OBJECT)
        return false;
    *oid = sk_ASN1_TYPE_value(*s, 0)->value.object;
    *val = sk_ASN1_TYPE_value(*s, 1);
    return true;
}

static bool parse_tcb(const ASN1_TYPE *t, pck_ext *x)
{
    STACK_OF(ASN1_TYPE) *list = members(t);
    uint32_t seen = 0;
    bool ok = list != NULL;
    for (int i = 0; ok && i < sk_ASN1_TYPE_num(list); i++) {
        STACK_OF(ASN1_TYPE) *s;
        const ASN1_OBJECT *oid;
        const ASN1_TYPE *val;
        ok = pair(sk_ASN1_TYPE_value(list, i), &s, &oid, &val) && tcb_entry(oid, val, x, &seen);
        sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return ok && seen == 0x7fffeu; /* bits 1..18 */
}

/* Bits of `seen`: 1 TCB, 2 PCEID, 3 FMSPC. */
static bool sgx_entry(const ASN1_OBJECT *oid, const ASN1_TYPE *val, pck_ext *x, unsigned *seen)
{
    unsigned arc = sgx_arc(oid, 1, NULL);
    unsigned bit = arc == 2 ? 1 : arc == 3 ? 2 : arc == 4 ? 4 : 0;
    if (bit == 0)
        return true; /* PPID, SGX type, platform instance...: not needed */
    if ((*seen & bit) != 0)
        return false;
    *seen |= bit;
    if (bit == 1)
        return parse_tcb(val, x);
    return bit == 2 ? octets(val, x->pceid, 2) : octets(val, x->fmspc, 6);
}

static bool parse_sgx_extension(X509 *leaf, pck_ext *x)
{
    X509_EXTENSION *ext = NULL;
    for (int i = 0; ext == NULL && i < X509_get_ext_count(leaf); i++) {
        X509_EXTENSION *cand = X509_get_ext(leaf, i);
        const ASN1_OBJECT *o = X509_EXTENSION_get_object(cand);
        if (OBJ_length(o) == sizeof(SGX_EXT_DER)
            && memcmp(OBJ_get0_data(o), SGX_EXT_DER, sizeof(SGX_EXT_DER)) == 0)
            ext = cand;
    }
    ASN1_OCTET_STRING *data = ext != NULL ? X509_EXTENSION_get_data(ext) : NULL;
    if (data == NULL)
        return false;
    const unsigned char *p = data->data;
    STACK_OF(ASN1_TYPE) *list = d2i_ASN1_SEQUENCE_ANY(NULL, &p, data->length);
    unsigned seen = 0;
    bool ok = list != NULL && p == data->data + data->length;
    for (int i = 0; ok && i < sk_ASN1_TYPE_num(list); i++) {
        STACK_OF(ASN1_TYPE) *s;
        const ASN1_OBJECT *oid;
        const ASN1_TYPE *val;
        ok = pair(sk_ASN1_TYPE_value(list, i), &s, &oid, &val) && sgx_entry(oid, val, x, &seen);
        sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    ERR_clear_error();
    return ok && seen == 7;
}

static httpa_err check_platform_identity(vctx *v)
{
    httpa_dcap_diag *d = &v->out->diag;
    const dcap_tcb_info *t = &v->col->tcb;
    if (!parse_sgx_extension(sk_X509_value(v->pck, 0), &v->ext))
        return dcap_fail(d, HTTPA_DCAP_PCK_EXTENSION_MALFORMED, "OID " SGX_EXT_OID);
    if (memcmp(t->fmspc, v->ext.fmspc, 6) != 0)
        return dcap_fail(d, HTTPA_DCAP_FMSPC_MISMATCH,
                         "PCK certificate FMSPC %02X%02X%02X%02X%02X%02X", v->ext.fmspc[0],
                         v->ext.fmspc[1], v->ext.fmspc[2], v->ext.fmspc[3], v->ext.fmspc[4],
                         v->ext.fmspc[5]);
    if (memcmp(t->pceid, v->ext.pceid, 2) != 0)
        return dcap_fail(d, HTTPA_DCAP_PCEID_MISMATCH, "PCE ID %02X%02X", v->ext.pceid[0],
                         v->ext.pceid[1]);
    return HTTPA_OK;
}

/* ---- 7. QE identity ---- */

static bool masked_equal(const uint8_t *value, const uint8_t *mask, const uint8_t *want, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)((value[i] & mask[i]) ^ want[i]);
    return diff == 0;
}

static httpa_err check_qe_identity(vctx *v)
{
    httpa_dcap_diag *d = &v->out->diag;
    const dcap_qe_identity *id = &v->col->qe;
    const httpa_dcap_enclave_report *qe = &v->q.qe_report;
    if (memcmp(qe->mrsigner, id->mrsigner, 32) != 0)
        return dcap_fail(d, HTTPA_DCAP_QE_MRSIGNER_MISMATCH, "QE report MRSIGNER");
    if (qe->isvprodid != id->isvprodid)
        return dcap_fail(d, HTTPA_DCAP_QE_ISVPRODID_MISMATCH, "ISVPRODID %u, want %u",
                         qe->isvprodid, id->isvprodid);
    if ((qe->miscselect & id->miscselect_mask) != id->miscselect)
        return dcap_fail(d, HTTPA_DCAP_QE_MISCSELECT_MISMATCH, "MISCSELECT 0x%08x",
                         (unsigned)qe->miscselect);
    if (!masked_equal(qe->attributes, id->attributes_mask, id->attributes, 16))
        return dcap_fail(d, HTTPA_DCAP_QE_ATTRIBUTES_MISMATCH, "QE report ATTRIBUTES");
    for (size_t i = 0; i < id->nlevels; i++)
        if (id->levels[i].isvsvn <= qe->isvsvn) {
            v->qe_level = &id->levels[i];
            return HTTPA_OK;
        }
    return dcap_fail(d, HTTPA_DCAP_QE_TCB_NOT_SUPPORTED, "QE ISVSVN %u", qe->isvsvn);
}

/* ---- 8. TCB level and TDX module ---- */

static bool svns_at_least(const uint8_t *have, const uint8_t *need, size_t from)
{
    for (size_t i = from; i < DCAP_SVN_COUNT; i++)
        if (have[i] < need[i])
            return false;
    return true;
}

static bool level_matches(const vctx *v, const dcap_tcb_level *l)
{
    if (l->pcesvn > v->ext.pcesvn || !svns_at_least(v->ext.comps, l->sgx_svn, 0))
        return false;
    if (!v->tdx)
        return true;
    /* With a TDX module version (TEE_TCB_SVN[1] != 0) its first two SVNs are
     * judged by tdxModuleIdentities instead (Intel QVL TcbLevelCheck). */
    const uint8_t *tee = v->q.td.tee_tcb_svn;
    return svns_at_least(tee, l->tdx_svn, tee[1] != 0 ? 2 : 0);
}

static httpa_err select_tcb_level(vctx *v)
{
    const dcap_tcb_info *t = &v->col->tcb;
    for (size_t i = 0; i < t->nlevels; i++)
        if (level_matches(v, &t->levels[i])) {
            v->level = &t->levels[i];
            return HTTPA_OK;
        }
    return dcap_fail(&v->out->diag, HTTPA_DCAP_TCB_NOT_SUPPORTED, "PCESVN %u", v->ext.pcesvn);
}

static httpa_err check_module_identity(vctx *v, const dcap_tdx_module *m)
{
    const httpa_dcap_td_report *td = &v->q.td;
    if (memcmp(td->mrsignerseam, m->mrsigner, 48) != 0
        || !masked_equal(td->seam_attributes, m->attributes_mask, m->attributes, 8))
        return dcap_fail(&v->out->diag, HTTPA_DCAP_TDX_MODULE_MISMATCH,
                         "MRSIGNERSEAM or SEAMATTRIBUTES (%s)", m->id[0] ? m->id : "tdxModule");
    return HTTPA_OK;
}

/* TDX 1.0 modules (TEE_TCB_SVN[1] == 0) are described by tdxModule alone;
 * later ones by the tdxModuleIdentities entry "TDX_<version in hex>". */
static httpa_err check_tdx_module(vctx *v)
{
    const dcap_tcb_info *t = &v->col->tcb;
    const uint8_t *svn = v->q.td.tee_tcb_svn;
    if (svn[1] == 0)
        return check_module_identity(v, &t->module);
    char id[16];
    snprintf(id, sizeof(id), "TDX_%02X", svn[1]);
    for (size_t i = 0; i < t->nidentities; i++) {
        const dcap_tdx_module *m = &t->identities[i];
        if (strlen(m->id) != strlen(id) || OPENSSL_strcasecmp(m->id, id) != 0)
            continue;
        httpa_err e = check_module_identity(v, m);
        if (e != HTTPA_OK)
            return e;
        for (size_t k = 0; k < m->nlevels; k++)
            if (m->levels[k].isvsvn <= svn[0]) {
                v->module_level = &m->levels[k];
                return HTTPA_OK;
            }
        return dcap_fail(&v->out->diag, HTTPA_DCAP_TDX_MODULE_TCB_NOT_SUPPORTED, "%s SVN %u",
                         id, svn[0]);
    }
    return dcap_fail(&v->out->diag, HTTPA_DCAP_TDX_MODULE_MISMATCH, "no identity %s", id);
}

/* ---- 9. Final status and advisories ---- */

/* Intel QVL's convergeTcbStatusWithQeTcbStatus (and the same rule for the
 * TDX module): an out-of-date QE or module makes the platform out of date,
 * a revoked one revokes it. */
static httpa_dcap_tcb_status converge(httpa_dcap_tcb_status platform, httpa_dcap_tcb_status other)
{
    if (other == HTTPA_TCB_REVOKED)
        return HTTPA_TCB_REVOKED;
    if (other != HTTPA_TCB_OUT_OF_DATE && other != HTTPA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED)
        return platform;
    if (platform == HTTPA_TCB_UP_TO_DATE || platform == HTTPA_TCB_SW_HARDENING_NEEDED)
        return HTTPA_TCB_OUT_OF_DATE;
    if (platform == HTTPA_TCB_CONFIGURATION_NEEDED
        || platform == HTTPA_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
        return HTTPA_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    return platform;
}

/* Append the advisory IDs of `a`, skipping ones already listed. */
static void add_advisories(httpa_dcap_result *r, const json_t *a)
{
    size_t i;
    json_t *s = NULL;
    json_array_foreach(a, i, s) {
        const char *id = json_string_value(s);
        bool dup = false;
        for (size_t k = 0; k < r->nadvisories && !dup; k++)
            dup = strcmp(r->advisory_ids[k], id) == 0;
        if (!dup && r->nadvisories < HTTPA_DCAP_MAX_ADVISORIES)
            snprintf(r->advisory_ids[r->nadvisories++], HTTPA_DCAP_ADVISORY_LEN, "%s", id);
    }
}

static httpa_err finish(vctx *v)
{
    httpa_dcap_result *r = v->out;
    r->platform_status = v->level->status;
    r->qe_status = v->qe_level->status;
    r->status = converge(r->platform_status, r->qe_status);
    add_advisories(r, v->level->advisories);
    add_advisories(r, v->qe_level->advisories);
    if (v->module_level != NULL) {
        r->status = converge(r->status, v->module_level->status);
        add_advisories(r, v->module_level->advisories);
    }
    memcpy(r->fmspc, v->ext.fmspc, 6);
    r->pcesvn = v->ext.pcesvn;
    if (r->status == HTTPA_TCB_REVOKED)
        return dcap_fail(&r->diag, HTTPA_DCAP_TCB_REVOKED, "platform %s, QE %s",
                         httpa_dcap_tcb_status_name(r->platform_status),
                         httpa_dcap_tcb_status_name(r->qe_status));
    return HTTPA_OK;
}

static void copy_quote(vctx *v)
{
    httpa_dcap_result *r = v->out;
    const httpa_dcap_quote *q = &v->q;
    r->version = q->version;
    r->tee_type = q->tee_type;
    r->body_kind = q->body_kind;
    r->sgx = q->sgx;
    r->td = q->td;
    memcpy(r->report_data, httpa_dcap_quote_report_data(q), 64);
    r->debug = v->tdx ? (q->td.td_attributes[0] & TD_ATTR_DEBUG) != 0
                      : (q->sgx.attributes[0] & SGX_ATTR_DEBUG) != 0;
}

static httpa_err check_tdx_step(vctx *v)
{
    return v->tdx ? check_tdx_module(v) : HTTPA_OK;
}

typedef httpa_err (*step_fn)(vctx *v);

static httpa_err run(vctx *v)
{
    static const step_fn steps[] = {
        check_collateral_kind, check_freshness,  check_crls,         check_collateral_signatures,
        check_pck_chain,  check_signatures,   check_platform_identity,
        check_qe_identity, select_tcb_level,  check_tdx_step,
        finish,
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        httpa_err e = steps[i](v);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

httpa_err httpa_dcap_verify(const httpa_dcap_trust *trust, httpa_span quote,
                            const httpa_dcap_collateral *col, int64_t now, httpa_dcap_result *out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (trust == NULL || col == NULL || (quote.base == NULL && quote.len != 0)) {
        dcap_fail(&out->diag, HTTPA_DCAP_INTERNAL, "missing trust anchor or collateral");
        return HTTPA_ERR_INVALID_ARG;
    }
    vctx v = {.trust = trust, .col = col, .now = now, .out = out};
    httpa_err e = httpa_dcap_quote_parse(quote, &v.q, &out->diag);
    if (e == HTTPA_OK) {
        v.tdx = v.q.tee_type == HTTPA_DCAP_TEE_TDX;
        copy_quote(&v);
        e = run(&v);
    }
    sk_X509_pop_free(v.pck, X509_free);
    if (e == HTTPA_OK)
        out->diag = (httpa_dcap_diag){.reason = HTTPA_DCAP_OK};
    else if (out->diag.reason == HTTPA_DCAP_INTERNAL)
        e = HTTPA_ERR_LIBRARY;
    return e;
}

bool dcap_quote_fmspc(httpa_span quote, uint8_t fmspc[6], bool *tdx)
{
    httpa_dcap_quote q;
    httpa_buf der[PCK_CHAIN_LEN + 1];
    size_t n = 0;
    if (httpa_dcap_quote_parse(quote, &q, NULL) != HTTPA_OK)
        return false;
    *tdx = q.tee_type == HTTPA_DCAP_TEE_TDX;
    /* Only the leaf is needed: decode that one certificate. */
    bool ok = dcap_pem_ders(q.pck_chain_pem.base, q.pck_chain_pem.len, der, PCK_CHAIN_LEN + 1, &n);
    const unsigned char *p = der[0].base;
    X509 *leaf = ok ? d2i_X509(NULL, &p, (long)der[0].len) : NULL;
    pck_ext x;
    ok = leaf != NULL && parse_sgx_extension(leaf, &x);
    if (ok)
        memcpy(fmspc, x.fmspc, 6);
    X509_free(leaf);
    for (size_t i = 0; i < PCK_CHAIN_LEN + 1; i++)
        httpa_buf_free(&der[i]);
    ERR_clear_error();
    return ok;
}

/* ---- Claims for the policy ---- */

_Static_assert(HTTPA_DCAP_ADVISORY_LEN == HTTPA_ADVISORY_ID_MAX, "advisory slots differ");

void httpa_dcap_result_claims(const httpa_dcap_result *r, httpa_claims *c)
{
    memset(c, 0, sizeof(*c));
    bool tdx = r->tee_type == HTTPA_DCAP_TEE_TDX;
    c->tee = tdx ? HTTPA_POLICY_TDX : HTTPA_POLICY_SGX;
    c->debug = r->debug;
    c->tcb_status = httpa_dcap_tcb_status_name(r->status);
    c->advisory_ids = (const char(*)[HTTPA_ADVISORY_ID_MAX])r->advisory_ids;
    c->nadvisory_ids = r->nadvisories;
    c->collateral_issued = r->collateral_issued;
    if (tdx) {
        memcpy(c->tdx.mrtd, r->td.mrtd, 48);
        memcpy(c->tdx.rtmr, r->td.rtmr, sizeof(c->tdx.rtmr));
    } else {
        memcpy(c->sgx.mrenclave, r->sgx.mrenclave, 32);
        memcpy(c->sgx.mrsigner, r->sgx.mrsigner, 32);
        c->sgx.isvprodid = r->sgx.isvprodid;
        c->sgx.isvsvn = r->sgx.isvsvn;
    }
}
