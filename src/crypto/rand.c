/* Randomness from OpenSSL's CSPRNG (per-thread DRBGs, so no lock here). */
#include <limits.h>

#include <openssl/rand.h>

#include "ossl.h"

httpa_err httpa_random(uint8_t *out, size_t len)
{
    if (out == NULL && len > 0)
        return HTTPA_ERR_INVALID_ARG;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(out, n) != 1)
            return httpa__ossl_error(HTTPA_ERR_LIBRARY);
        out += n;
        len -= (size_t)n;
    }
    return HTTPA_OK;
}
