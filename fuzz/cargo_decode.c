/* Target: httpa_cargo_decode, httpa_cargo_encode */
/* Whatever decodes must re-encode to exactly the input (the encoding is
 * canonical: no padding, no trailing octets, one form per value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cargo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpa_cargo c;
    httpa_err e = httpa_cargo_decode(HTTPA_SPAN(data, size), &c);
    if (e != HTTPA_OK) {
        if (e != HTTPA_ERR_BAD_REQUEST || c.headers != NULL || c.nheaders != 0)
            abort();
        return 0;
    }
    httpa_buf out;
    httpa_buf_init(&out, SIZE_MAX);
    if (httpa_cargo_encode(&c, &out) != HTTPA_OK)
        abort();
    if (out.len != size || (size != 0 && memcmp(out.base, data, size) != 0))
        abort();
    httpa_buf_free(&out);
    httpa_cargo_clear(&c);
    return 0;
}
