/* Target: httpa_dcap_collateral_parse */
/* The JSON collateral format: hex DER CRLs, PEM chains, and the TCB info and
 * QE identity texts parsed inside. Beyond "no crash, no leak": success and
 * failure agree with the reported reason, and an accepted collateral can be
 * used for a verification (which must then fail cleanly: there is no quote). */
#include <stdint.h>
#include <stdlib.h>

#include "httpa/dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpa_dcap_collateral *c = NULL;
    httpa_dcap_diag d = {.reason = HTTPA_DCAP_INTERNAL};
    httpa_err e = httpa_dcap_collateral_parse((const char *)data, size, &c, &d);
    if ((e == HTTPA_OK) != (d.reason == HTTPA_DCAP_OK) || (e == HTTPA_OK) != (c != NULL))
        abort();
    if (c != NULL) {
        httpa_dcap_trust *t = NULL;
        httpa_dcap_result r;
        if (httpa_dcap_trust_new_intel(&t) != HTTPA_OK)
            abort();
        if (httpa_dcap_verify(t, HTTPA_SPAN(data, size), c, 1750334171, &r) == HTTPA_OK)
            abort();
        httpa_dcap_trust_free(t);
    }
    httpa_dcap_collateral_free(c);
    return 0;
}
