/* Target: httpa_sim_evidence_parse, httpa_sim_verifier (appraise) */
/* The simulated TEE of profile 7.6. The seed corpus is signed by the key
 * below (seed "httpa-fuzz"), so mutations reach past the signature check.
 * Beyond "no crash": what the verifier accepts also parses, has version 1,
 * only known flags, and hands back the report_data of octets 56..119. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpa/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t FUZZ_SIM_PUB[32] = {
    0xa0, 0x88, 0x81, 0xad, 0xc2, 0xb4, 0x67, 0x1e, 0x1d, 0xb1, 0x13, 0x21, 0x42, 0x2e, 0x3c, 0xa3,
    0x55, 0x91, 0x21, 0x6b, 0xc3, 0x7b, 0x6e, 0xfe, 0x4c, 0xbb, 0xcb, 0xf1, 0xca, 0x41, 0xe1, 0xa1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpa_sim_evidence ev;
    httpa_sim_verifier v;
    httpa_appraisal a;
    httpa_span in = HTTPA_SPAN(data, size);
    bool parsed = httpa_sim_evidence_parse(in, &ev) == HTTPA_OK;
    httpa_sim_verifier_init(&v, FUZZ_SIM_PUB);
    v.allow_debug = size > 0 && (data[size - 1] & 1); /* both policies get exercised */
    httpa_err e = v.base.appraise(&v.base, "sim", "raw", in, 0, &a);
    if (e == HTTPA_OK) {
        if (!parsed || ev.version != 1 || (ev.flags & ~HTTPA_SIM_FLAG_DEBUG) != 0 || !a.simulated
            || memcmp(a.report_data, data + 56, 64) != 0 || (a.debug && !v.allow_debug))
            abort();
    } else if (e != HTTPA_ERR_BAD_QUOTE && e != HTTPA_ERR_POLICY_VIOLATION) {
        abort();
    }
    /* Other tokens and formats are not the sim verifier's. */
    if (v.base.appraise(&v.base, "sgx", "raw", in, 0, &a) != HTTPA_ERR_UNSUPPORTED
        || v.base.appraise(&v.base, "sim", "eat", in, 0, &a) != HTTPA_ERR_UNSUPPORTED)
        abort();
    return 0;
}
