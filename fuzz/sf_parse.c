/* Target: httpa_sf_parse, httpa_sf_serialize */
/* The first octet picks Item, List or Dictionary; the rest is the field
 * value. Beyond "no crash, no leak", a value that parses must serialize,
 * that serialization must parse, and serializing it again must give the
 * same octets: the canonical form is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpa/sf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static httpa_buf serialize_or_abort(const httpa_sf_value *v)
{
    httpa_buf out;
    httpa_buf_init(&out, 1 << 20);
    if (httpa_sf_serialize(v, &out) != HTTPA_OK)
        abort();
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const httpa_sf_kind kinds[] = {HTTPA_SF_ITEM, HTTPA_SF_LIST, HTTPA_SF_DICT};
    /* The serialization may be a little longer than the input (", " where
     * the input had ","), so the re-parse is allowed more input. */
    static const httpa_sf_limits roomy = {.max_input = 1 << 20};
    httpa_sf_value *v = NULL, *again = NULL;
    if (size == 0)
        return 0;
    httpa_sf_kind kind = kinds[data[0] % 3];
    if (httpa_sf_parse(kind, (const char *)data + 1, size - 1, NULL, &v) != HTTPA_OK)
        return 0;
    httpa_buf first = serialize_or_abort(v);
    httpa_sf_free(v);

    if (httpa_sf_parse(kind, (const char *)first.base, first.len, &roomy, &again) != HTTPA_OK)
        abort();
    /* Parsing already merged duplicate keys, so none can come back. */
    if (again->duplicate_keys)
        abort();
    httpa_buf second = serialize_or_abort(again);
    httpa_sf_free(again);
    if (first.len != second.len ||
        (first.len != 0 && memcmp(first.base, second.base, first.len) != 0))
        abort();
    httpa_buf_free(&first);
    httpa_buf_free(&second);
    return 0;
}
