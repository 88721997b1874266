/* DCAP collateral over HTTP, from a PCCS or Intel's PCS (v4 API), with an
 * on-disk cache.
 *
 * One fetch gets, for a TEE type (SGX or TDX), an FMSPC and a PCK CA type
 * (processor or platform):
 *
 *   GET {base}/sgx/certification/v4/pckcrl?ca={processor|platform}&encoding=der
 *       body: PCK CRL; header SGX-PCK-CRL-Issuer-Chain
 *   GET {base}/{sgx|tdx}/certification/v4/tcb?fmspc={FMSPC}
 *       body: {"tcbInfo":{...},"signature":"..."}; header TCB-Info-Issuer-Chain
 *       (or SGX-TCB-Info-Issuer-Chain)
 *   GET {base}/{sgx|tdx}/certification/v4/qe/identity
 *       body: {"enclaveIdentity":{...},"signature":"..."};
 *       header SGX-Enclave-Identity-Issuer-Chain
 *   GET {root_crl_url}    the Intel SGX Root CA CRL (DER, or hex as PCCS serves it)
 *
 * Issuer chains arrive URL-encoded in the headers. The signed JSON objects
 * are kept as the exact octets of the response (the signatures cover those
 * octets). The result is the collateral JSON format of the file loader
 * (httpa_dcap_collateral_parse), so it is parsed by the same code, and that
 * is also what the cache stores: one file per (TEE type, FMSPC, CA type),
 * written to a temporary name and renamed into place, used while the
 * earliest nextUpdate of its parts is in the future.
 *
 * libcurl: call curl_global_init(CURL_GLOBAL_DEFAULT) once at program start
 * (before threads) as libcurl asks; each request uses its own easy handle.
 *
 * Nothing fetched is trusted: httpa_dcap_verify checks every signature up to
 * the pinned Intel root. Fetching fails closed: when the server cannot be
 * reached and no fresh cache entry exists, there is no collateral (never a
 * stale one). */
#ifndef HTTPA_PCS_H
#define HTTPA_PCS_H

#include <stdbool.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/dcap.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTPA_PCS_INTEL_URL "https://api.trustedservices.intel.com"
#define HTTPA_PCS_INTEL_ROOT_CRL_URL \
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
/* Bound on one response body and on the response headers. */
#define HTTPA_PCS_BODY_MAX (1024 * 1024)
#define HTTPA_PCS_HEADERS_MAX (64 * 1024)

typedef enum httpa_pcs_ca {
    HTTPA_PCS_CA_PROCESSOR,
    HTTPA_PCS_CA_PLATFORM,
} httpa_pcs_ca;

typedef struct httpa_pcs_config {
    /* "https://pccs.example:8081" or HTTPA_PCS_INTEL_URL; the v4 paths are
     * appended. Required. */
    const char *base_url;
    /* NULL: {base_url}/sgx/certification/v4/rootcacrl (PCCS); with Intel's
     * PCS use HTTPA_PCS_INTEL_ROOT_CRL_URL. */
    const char *root_crl_url;
    const char *cache_dir;  /* NULL: no cache; created (0700) when missing */
    long timeout_ms;        /* per request; 0: 10000 */
    const char *ca_file;    /* TLS trust for https; NULL: the system's */
} httpa_pcs_config;

typedef struct httpa_pcs httpa_pcs;

/* What a get did. */
typedef struct httpa_pcs_result {
    bool from_cache;
    unsigned requests;      /* HTTP requests made */
    int64_t expires;        /* earliest nextUpdate of the collateral */
    char cache_file[512];   /* "" without a cache */
    char detail[512];       /* why it failed */
} httpa_pcs_result;

httpa_err httpa_pcs_new(const httpa_pcs_config *cfg, httpa_pcs **out) HTTPA_MUST_USE;
void httpa_pcs_free(httpa_pcs *p);

/* Collateral for (tdx ? TDX : SGX, fmspc, ca), valid at `now`: from the
 * cache while fresh, else fetched (and cached). HTTPA_ERR_NETWORK: a
 * request failed or answered other than 200; HTTPA_ERR_BAD_QUOTE: a response
 * was malformed (res->detail says which); HTTPA_ERR_TOO_LARGE; HTTPA_ERR_IO:
 * the cache could not be written. `res` may be NULL. */
httpa_err httpa_pcs_get(httpa_pcs *p, bool tdx, const uint8_t fmspc[6], httpa_pcs_ca ca,
                        int64_t now, httpa_dcap_collateral **out,
                        httpa_pcs_result *res) HTTPA_MUST_USE;

/* The same for the platform that produced `quote`: TEE type from the quote,
 * FMSPC from its PCK certificate, CA type from the certificate's issuer. */
httpa_err httpa_pcs_get_for_quote(httpa_pcs *p, httpa_span quote, int64_t now,
                                  httpa_dcap_collateral **out,
                                  httpa_pcs_result *res) HTTPA_MUST_USE;

/* The earliest nextUpdate of TCB info, QE identity and both CRLs. */
int64_t httpa_dcap_collateral_expiry(const httpa_dcap_collateral *c);

/* Percent-decoding as the issuer-chain headers need (%XX only; '+' stays):
 * appended to `out`. HTTPA_ERR_BAD_REQUEST on a bad escape. */
httpa_err httpa_pcs_url_decode(const char *in, size_t len, httpa_buf *out) HTTPA_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
