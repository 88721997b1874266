/* Target: httpa_fields_parse, httpa_ahl_build
 *
 * The input is a header section, one "name: value" per line ("\n" ends a
 * line, a trailing "\r" is dropped). It becomes the fields of a request
 * "ATTEST /", whose Attest-* fields are parsed and whose two AHLs are built.
 * Every outcome is fine except a crash, a leak or a sanitizer report. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/fields.h"
#include "httpa/limits.h"
#include "httpa/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Add one line; lines without a colon or with an empty name are skipped,
 * as an HTTP parser would have refused them. */
static void add_line(httpa_msg *m, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return;
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    (void)httpa_msg_add(m, p, name_len, v, vlen);
}

static void build_msg(httpa_msg *m, const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        add_line(m, p, n);
        p += n + (nl ? 1 : 0);
    }
}

static void build_ahls(const httpa_msg *m, const httpa_fields *f)
{
    static const httpa_ahl_set sets[2] = {HTTPA_X_FULL, HTTPA_X_CORE};
    for (int i = 0; i < 2; i++) {
        httpa_buf out;
        httpa_buf_init(&out, 1u << 22);
        if (httpa_ahl_build(m, f, sets[i], &out) != HTTPA_OK && out.len != 0)
            __builtin_trap(); /* a failed build must not leave output behind */
        httpa_buf_free(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 20)
        return 0;
    httpa_msg m;
    httpa_msg_init_request(&m);
    if (httpa_msg_set_request_line(&m, "ATTEST", 6, "/", 1) != HTTPA_OK) {
        httpa_msg_free(&m);
        return 0;
    }
    build_msg(&m, data, size);
    httpa_limits lim = httpa_limits_default();
    httpa_fields f;
    if (httpa_fields_parse(&m, &lim, &f) == HTTPA_OK) {
        build_ahls(&m, &f);
    } else if (f.nunknown != 0 || f.unknown != NULL) {
        __builtin_trap(); /* a failed parse leaves f empty */
    }
    httpa_fields_free(&f);
    httpa_msg_free(&m);
    return 0;
}
