/* Stapled results (profile 7.7): names, the httpa2_claims schema of each
 * TEE, and small encoders shared by the issuer and the verifier. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "eat_int.h"
#include "httpa/crypto.h"

static const char *const REASON_NAMES[] = {
#define HTTPA_EAT_X(name, text) #name,
    HTTPA_EAT_REASONS(HTTPA_EAT_X)
#undef HTTPA_EAT_X
};
static const char *const REASON_TEXTS[] = {
#define HTTPA_EAT_X(name, text) text,
    HTTPA_EAT_REASONS(HTTPA_EAT_X)
#undef HTTPA_EAT_X
};

const char *httpa_eat_reason_name(httpa_eat_reason r)
{
    return (unsigned)r < HTTPA_EAT_REASON__COUNT ? REASON_NAMES[r] : "UNKNOWN";
}

const char *httpa_eat_reason_text(httpa_eat_reason r)
{
    return (unsigned)r < HTTPA_EAT_REASON__COUNT ? REASON_TEXTS[r] : "unknown reason";
}

const char *httpa_eat_verdict_name(httpa_eat_verdict v)
{
    switch (v) {
    case HTTPA_EAT_VERDICT_AFFIRMING: return "affirming";
    case HTTPA_EAT_VERDICT_WARNING: return "warning";
    case HTTPA_EAT_VERDICT_CONTRAINDICATED: return "contraindicated";
    }
    return "contraindicated";
}

httpa_err eat_fail(httpa_eat_diag *d, httpa_eat_reason r, const char *fmt, ...)
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

/* ---- httpa2_claims members, per TEE (profile 7.7) ---- */

#define M_OFF(field) offsetof(httpa_eat_measurements, field)
#define NO_DEST SIZE_MAX

static const eat_member SGX[] = {
    {"mrenclave", EAT_HEX, 32, 0, M_OFF(sgx.mrenclave)},
    {"mrsigner", EAT_HEX, 32, 0, M_OFF(sgx.mrsigner)},
    {"isvprodid", EAT_UINT, 2, UINT16_MAX, M_OFF(sgx.isvprodid)},
    {"isvsvn", EAT_UINT, 2, UINT16_MAX, M_OFF(sgx.isvsvn)},
    {"debug", EAT_BOOL, 0, 0, M_OFF(debug)},
};

static const eat_member TDX[] = {
    {"mrtd", EAT_HEX, 48, 0, M_OFF(tdx.mrtd)},
    {"rtmr0", EAT_HEX, 48, 0, M_OFF(tdx.rtmr[0])},
    {"rtmr1", EAT_HEX, 48, 0, M_OFF(tdx.rtmr[1])},
    {"rtmr2", EAT_HEX, 48, 0, M_OFF(tdx.rtmr[2])},
    {"rtmr3", EAT_HEX, 48, 0, M_OFF(tdx.rtmr[3])},
    {"mrconfigid", EAT_HEX, 48, 0, M_OFF(tdx.mrconfigid)},
    {"mrowner", EAT_HEX, 48, 0, M_OFF(tdx.mrowner)},
    {"mrownerconfig", EAT_HEX, 48, 0, M_OFF(tdx.mrownerconfig)},
    {"debug", EAT_BOOL, 0, 0, M_OFF(debug)},
};

static const eat_member SEV_SNP[] = {
    {"measurement", EAT_HEX, 48, 0, NO_DEST},
    {"host_data", EAT_HEX, 32, 0, NO_DEST},
    {"policy", EAT_UINT, 8, INT64_MAX, NO_DEST},
    {"debug", EAT_BOOL, 0, 0, M_OFF(debug)},
};

#define PCR(i) {"pcr" #i, EAT_HEX, 32, 0, NO_DEST}
static const eat_member TPM[] = {
    PCR(0),  PCR(1),  PCR(2),  PCR(3),  PCR(4),  PCR(5),  PCR(6),  PCR(7),
    PCR(8),  PCR(9),  PCR(10), PCR(11), PCR(12), PCR(13), PCR(14), PCR(15),
    PCR(16), PCR(17), PCR(18), PCR(19), PCR(20), PCR(21), PCR(22), PCR(23),
};
#undef PCR

static const eat_member SIM[] = {
    {"measurement", EAT_HEX, 32, 0, M_OFF(sim.measurement)},
    {"svn", EAT_UINT, 4, UINT32_MAX, M_OFF(sim.svn)},
    {"debug", EAT_BOOL, 0, 0, M_OFF(debug)},
};

#define SCHEMA(tee, arr) {tee, arr, sizeof(arr) / sizeof(arr[0])}
static const struct {
    const char *tee;
    const eat_member *m;
    size_t n;
} SCHEMAS[] = {
    SCHEMA("sgx", SGX), SCHEMA("tdx", TDX), SCHEMA("sev_snp", SEV_SNP),
    SCHEMA("tpm", TPM), SCHEMA("sim", SIM),
};

const eat_member *eat_schema(const char *tee, size_t *n)
{
    for (size_t i = 0; i < sizeof(SCHEMAS) / sizeof(SCHEMAS[0]); i++)
        if (strcmp(SCHEMAS[i].tee, tee) == 0) {
            *n = SCHEMAS[i].n;
            return SCHEMAS[i].m;
        }
    *n = 0;
    return NULL;
}

bool eat_tee_known(const char *tee)
{
    size_t n;
    return eat_schema(tee, &n) != NULL;
}

/* ---- encoders ---- */

void eat_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

json_t *eat_b64u_json(const uint8_t *p, size_t n)
{
    httpa_buf b;
    json_t *s = NULL;
    httpa_buf_init(&b, 4 * n / 3 + 8);
    if (httpa_base64url_encode(HTTPA_SPAN(p, n), &b) == HTTPA_OK)
        s = json_stringn((const char *)b.base, b.len);
    httpa_buf_free(&b);
    return s;
}

bool eat_b64u_exact(const char *s, size_t len, uint8_t *out, size_t n)
{
    httpa_buf b;
    httpa_buf_init(&b, n + 3);
    bool ok = httpa_base64url_decode(s, len, &b) == HTTPA_OK && b.len == n;
    if (ok)
        memcpy(out, b.base, n);
    httpa_buf_free(&b);
    return ok;
}

httpa_err eat_pem(const char *label, const uint8_t *der, size_t der_len, char *out, size_t cap)
{
    httpa_buf b64, pem;
    httpa_buf_init_sensitive(&b64, 4096);
    httpa_buf_init_sensitive(&pem, cap);
    httpa_err e = httpa_base64_encode(HTTPA_SPAN(der, der_len), &b64);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, "-----BEGIN ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, label);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, "-----\n");
    for (size_t i = 0; e == HTTPA_OK && i < b64.len; i += 64) {
        size_t k = b64.len - i < 64 ? b64.len - i : 64;
        e = httpa_buf_append(&pem, b64.base + i, k);
        if (e == HTTPA_OK)
            e = httpa_buf_append_u8(&pem, '\n');
    }
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, "-----END ");
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, label);
    if (e == HTTPA_OK)
        e = httpa_buf_append_str(&pem, "-----\n");
    if (e == HTTPA_OK && pem.len + 1 > cap)
        e = HTTPA_ERR_TOO_LARGE;
    if (e == HTTPA_OK) {
        memcpy(out, pem.base, pem.len);
        out[pem.len] = '\0';
    }
    httpa_buf_free(&b64);
    httpa_buf_free(&pem);
    return e;
}
