/* Target: httpa_dcap_quote_parse */
/* Beyond "no crash, no leak": a quote that parses has every span inside the
 * input, its signed part starts at octet 0, its REPORTDATA is where
 * report_data_offset says (the profile 7.5 offsets), and a rejection always
 * names a reason. The PCK chain and SGX-extension walk (used to choose
 * collateral) run over whatever the parser accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/dcap_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(httpa_span s, const uint8_t *data, size_t size)
{
    if (s.len > size || s.base < data || (size_t)(s.base - data) > size - s.len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpa_dcap_quote q;
    httpa_dcap_diag d = {.reason = HTTPA_DCAP_OK};
    httpa_span in = HTTPA_SPAN(data, size);
    if (httpa_dcap_quote_parse(in, &q, &d) != HTTPA_OK) {
        if (d.reason == HTTPA_DCAP_OK)
            abort();
        return 0;
    }
    if (q.signed_part.base != data)
        abort();
    check_inside(q.signed_part, data, size);
    check_inside(q.qe_report_raw, data, size);
    check_inside(q.qe_auth_data, data, size);
    check_inside(q.pck_chain_pem, data, size);
    if (q.report_data_offset > size - 64
        || memcmp(data + q.report_data_offset, httpa_dcap_quote_report_data(&q), 64) != 0)
        abort();
    uint8_t fmspc[6];
    bool tdx;
    (void)dcap_quote_fmspc(in, fmspc, &tdx);
    return 0;
}
