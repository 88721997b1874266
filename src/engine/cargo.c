/* CargoPlain (profile 9.3): encode, strict decode; sealing rules (9.4). */
#include <stdlib.h>
#include <string.h>

#include "engine/cargo.h"

#define CARGO_VERSION 1
#define CARGO_FLAGS_KNOWN (HTTPA_CARGO_BODY | HTTPA_CARGO_STREAMED | HTTPA_CARGO_TARGET)
#define CARGO_RS_MIN 1024u
#define CARGO_RS_MAX 65536u
#define CARGO_METHOD_MAX 64
#define CARGO_TARGET_MAX 8192
#define CARGO_NAME_MAX 256
#define CARGO_VALUE_MAX 16384

/* ---- character classes (RFC 9110) ---- */

static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(httpa_span s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar(s.base[i]))
            return false;
    return true;
}

static bool is_lower_token(httpa_span s)
{
    if (!is_token(s))
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.base[i] >= 'A' && s.base[i] <= 'Z')
            return false;
    return true;
}

static bool is_visible(uint8_t c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* A field value: visible ASCII, SP and HTAB, no whitespace at either end.
 * This excludes CR, LF and NUL. */
static bool is_field_value(httpa_span s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!is_visible(s.base[i]) && s.base[i] != ' ' && s.base[i] != '\t')
            return false;
    return s.len == 0 || (is_visible(s.base[0]) && is_visible(s.base[s.len - 1]));
}

static bool span_is(httpa_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.base, lit, n) == 0;
}

/* ---- the rules of 9.3, on a decoded or to-be-encoded Cargo ---- */

static bool flags_ok(const httpa_cargo *c)
{
    bool body = c->flags & HTTPA_CARGO_BODY, streamed = c->flags & HTTPA_CARGO_STREAMED;
    if ((c->flags & ~CARGO_FLAGS_KNOWN) != 0 || (streamed && !body))
        return false;
    if (body ? (c->record_size < CARGO_RS_MIN || c->record_size > CARGO_RS_MAX)
             : c->record_size != 0)
        return false;
    return (body && !streamed) || c->content_length == 0;
}

static bool target_ok(const httpa_cargo *c)
{
    if (!(c->flags & HTTPA_CARGO_TARGET))
        return c->method.len == 0 && c->target.len == 0;
    if (c->method.len > CARGO_METHOD_MAX || !is_token(c->method))
        return false;
    if (span_is(c->method, "ATTEST") || span_is(c->method, "CONNECT"))
        return false;
    if (c->target.len == 0 || c->target.len > CARGO_TARGET_MAX || c->target.base[0] != '/')
        return false;
    for (size_t i = 0; i < c->target.len; i++)
        if (!is_visible(c->target.base[i]))
            return false;
    return true;
}

static bool header_ok(const httpa_cargo_header *h)
{
    return h->name.len <= CARGO_NAME_MAX && is_lower_token(h->name) &&
           h->value.len <= CARGO_VALUE_MAX && is_field_value(h->value);
}

static bool cargo_ok(const httpa_cargo *c)
{
    if (!flags_ok(c) || !target_ok(c))
        return false;
    if (c->content_type.len > UINT16_MAX || !is_field_value(c->content_type))
        return false;
    if (c->content_encoding.len > UINT16_MAX || !is_field_value(c->content_encoding))
        return false;
    if (c->nheaders > HTTPA_CARGO_MAX_HEADERS || (c->nheaders != 0 && c->headers == NULL))
        return false;
    for (size_t i = 0; i < c->nheaders; i++)
        if (!header_ok(&c->headers[i]))
            return false;
    return true;
}

/* ---- encode ---- */

static httpa_err put16(httpa_buf *out, httpa_span s)
{
    httpa_err e = httpa_buf_append_u16(out, (uint16_t)s.len);
    return e == HTTPA_OK ? httpa_buf_append(out, s.base, s.len) : e;
}

static httpa_err put_fixed(const httpa_cargo *c, httpa_buf *out)
{
    httpa_err e = httpa_buf_append_u8(out, CARGO_VERSION);
    if (e == HTTPA_OK)
        e = httpa_buf_append_u8(out, c->flags);
    if (e == HTTPA_OK)
        e = httpa_buf_append_u32(out, c->record_size);
    if (e == HTTPA_OK)
        e = httpa_buf_append_u64(out, c->content_length);
    if (e == HTTPA_OK)
        e = put16(out, c->content_type);
    if (e == HTTPA_OK)
        e = put16(out, c->content_encoding);
    if (e == HTTPA_OK && (c->flags & HTTPA_CARGO_TARGET)) {
        e = put16(out, c->method);
        if (e == HTTPA_OK)
            e = put16(out, c->target);
    }
    return e;
}

static httpa_err put_headers(const httpa_cargo *c, httpa_buf *out)
{
    httpa_err e = httpa_buf_append_u16(out, (uint16_t)c->nheaders);
    for (size_t i = 0; e == HTTPA_OK && i < c->nheaders; i++) {
        const httpa_cargo_header *h = &c->headers[i];
        e = put16(out, h->name);
        if (e == HTTPA_OK)
            e = httpa_buf_append_u32(out, (uint32_t)h->value.len);
        if (e == HTTPA_OK)
            e = httpa_buf_append(out, h->value.base, h->value.len);
    }
    return e;
}

httpa_err httpa_cargo_encode(const httpa_cargo *c, httpa_buf *out)
{
    if (c == NULL || out == NULL || !cargo_ok(c))
        return HTTPA_ERR_INVALID_ARG;
    size_t start = out->len;
    httpa_err e = put_fixed(c, out);
    if (e == HTTPA_OK)
        e = put_headers(c, out);
    if (e != HTTPA_OK) {
        httpa_wipe(out->base + start, out->len - start);
        out->len = start;
    }
    return e;
}

/* ---- decode ---- */

static httpa_err get16(httpa_reader *r, httpa_span *s)
{
    uint16_t n;
    httpa_err e = httpa_read_u16(r, &n);
    return e == HTTPA_OK ? httpa_read_span(r, n, s) : e;
}

static httpa_err get_fixed(httpa_reader *r, httpa_cargo *c)
{
    uint8_t version;
    httpa_err e = httpa_read_u8(r, &version);
    if (e == HTTPA_OK && version != CARGO_VERSION)
        e = HTTPA_ERR_BAD_REQUEST;
    if (e == HTTPA_OK)
        e = httpa_read_u8(r, &c->flags);
    if (e == HTTPA_OK)
        e = httpa_read_u32(r, &c->record_size);
    if (e == HTTPA_OK)
        e = httpa_read_u64(r, &c->content_length);
    if (e == HTTPA_OK)
        e = get16(r, &c->content_type);
    if (e == HTTPA_OK)
        e = get16(r, &c->content_encoding);
    if (e == HTTPA_OK && (c->flags & HTTPA_CARGO_TARGET)) {
        e = get16(r, &c->method);
        if (e == HTTPA_OK)
            e = get16(r, &c->target);
    }
    return e;
}

static httpa_err get_header(httpa_reader *r, httpa_cargo_header *h)
{
    uint32_t n;
    httpa_err e = get16(r, &h->name);
    if (e == HTTPA_OK)
        e = httpa_read_u32(r, &n);
    if (e == HTTPA_OK)
        e = httpa_read_span(r, n, &h->value);
    return e;
}

static httpa_err get_headers(httpa_reader *r, httpa_cargo *c)
{
    uint16_t n;
    httpa_err e = httpa_read_u16(r, &n);
    if (e != HTTPA_OK)
        return e;
    if (n > HTTPA_CARGO_MAX_HEADERS)
        return HTTPA_ERR_BAD_REQUEST;
    if (n == 0)
        return HTTPA_OK;
    c->headers = calloc(n, sizeof(*c->headers));
    if (c->headers == NULL)
        return HTTPA_ERR_NOMEM;
    c->nheaders = n;
    for (size_t i = 0; e == HTTPA_OK && i < n; i++)
        e = get_header(r, &c->headers[i]);
    return e;
}

httpa_err httpa_cargo_decode(httpa_span plain, httpa_cargo *c)
{
    if (c == NULL || (plain.len != 0 && plain.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    memset(c, 0, sizeof(*c));
    httpa_reader r = httpa_reader_of(plain);
    httpa_err e = get_fixed(&r, c);
    if (e == HTTPA_OK)
        e = get_headers(&r, c);
    if (e == HTTPA_OK && (httpa_reader_left(&r) != 0 || !cargo_ok(c)))
        e = HTTPA_ERR_BAD_REQUEST;
    if (e != HTTPA_OK)
        httpa_cargo_clear(c);
    return e;
}

void httpa_cargo_clear(httpa_cargo *c)
{
    if (c == NULL)
        return;
    free(c->headers);
    memset(c, 0, sizeof(*c));
}

/* ---- sealing rules (9.4) ---- */

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool name_eq(httpa_span a, httpa_span b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.base[i]) != lower(b.base[i]))
            return false;
    return true;
}

static bool has_prefix(httpa_span s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && name_eq(HTTPA_SPAN(s.base, n), HTTPA_SPAN(prefix, n));
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* Whether `name` is one of the comma-separated members of `list`. */
static bool listed(httpa_span name, httpa_span list)
{
    size_t i = 0;
    while (i < list.len) {
        size_t j = i;
        while (j < list.len && list.base[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && is_ows(list.base[a]))
            a++;
        while (b > a && is_ows(list.base[b - 1]))
            b--;
        if (name_eq(name, HTTPA_SPAN(list.base + a, b - a)))
            return true;
        i = j + 1;
    }
    return false;
}

static const char *const never_sealed[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "http2-settings", "proxy-authorization", "proxy-authenticate", "host",
    "content-length", "content-type", "content-encoding",
};

bool httpa_cargo_may_seal(httpa_span name, httpa_span connection)
{
    if (name.len == 0 || name.len > CARGO_NAME_MAX || name.base == NULL || !is_token(name))
        return false; /* also excludes pseudo-headers (":...") */
    for (size_t i = 0; i < sizeof(never_sealed) / sizeof(never_sealed[0]); i++)
        if (name_eq(name, HTTPA_SPAN(never_sealed[i], strlen(never_sealed[i]))))
            return false;
    if (has_prefix(name, "attest-"))
        return false;
    return connection.base == NULL || !listed(name, connection);
}
