/* Structured Field Values (RFC 8941, RFC 9651): parser and canonical serializer.
 *
 * The parser runs twice over the input: a counting pass that validates and
 * sizes every array, then a building pass into one exact-size allocation, so
 * a parsed value is a single block and nothing grows or reallocates. No I/O,
 * no global state, no OpenSSL. */
#include <stdlib.h>
#include <string.h>

#include "httpa/sf.h"

/* RFC 9651 section 3.3.1: at most 15 digits either side of zero; Decimals
 * and Dates share the bound (a Decimal in thousandths has 12 + 3 digits). */
#define SF_NUM_LIMIT INT64_C(999999999999999)

enum {
    SF_INT_DIGITS = 15,
    SF_DEC_INT_DIGITS = 12,
    SF_DEC_FRAC_DIGITS = 3,
};

static const httpa_sf_limits sf_default_limits = {
    .max_input = 65536,
    .max_members = 1024,
    .max_inner = 256,
    .max_params = 256,
};

/* ---- character classes (RFC 9651 section 3 and RFC 9110 tchar) -------- */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_lcalpha(int c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_alpha(int c)
{
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static bool is_one_of(int c, const char *set)
{
    return c > 0 && strchr(set, c) != NULL;
}

static bool is_token_char(int c)
{
    return is_alpha(c) || is_digit(c) || is_one_of(c, "!#$%&'*+-.^_`|~:/");
}

static bool is_key_first(int c)
{
    return is_lcalpha(c) || c == '*';
}

static bool is_key_char(int c)
{
    return is_lcalpha(c) || is_digit(c) || is_one_of(c, "_-.*");
}

/* Printable ASCII: what sf-string and the display-string body may carry. */
static bool is_visible(int c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* ---- UTF-8 (display strings) ---------------------------------------------- */

/* A streaming validator, so the counting pass can check a display string
 * without storing it: `need` continuation octets remain, the next of which
 * must lie in [lo, hi] (this rejects overlongs, surrogates and > U+10FFFF). */
typedef struct utf8_state {
    unsigned need;
    uint8_t lo, hi;
} utf8_state;

static bool utf8_lead(utf8_state *st, uint8_t c)
{
    st->lo = 0x80;
    st->hi = 0xbf;
    if (c < 0x80)
        return true;
    if (c >= 0xc2 && c <= 0xdf)
        st->need = 1;
    else if (c >= 0xe0 && c <= 0xef)
        st->need = 2;
    else if (c >= 0xf0 && c <= 0xf4)
        st->need = 3;
    else
        return false;
    if (c == 0xe0)
        st->lo = 0xa0;
    else if (c == 0xed)
        st->hi = 0x9f;
    else if (c == 0xf0)
        st->lo = 0x90;
    else if (c == 0xf4)
        st->hi = 0x8f;
    return true;
}

static bool utf8_step(utf8_state *st, uint8_t c)
{
    if (st->need == 0)
        return utf8_lead(st, c);
    if (c < st->lo || c > st->hi)
        return false;
    st->need--;
    st->lo = 0x80;
    st->hi = 0xbf;
    return true;
}

/* ---- base64 ---------------------------------------------------------------- */
/* Our own strict codec: RFC 8941 and the profile demand canonical padded
 * base64, which OpenSSL's lax EVP_DecodeBlock does not enforce. */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of each base64 alphabet octet (RFC 4648 table 1), -1 for any
 * other octet: one load per character on the hot path of every request. */
static const int8_t b64_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Decode one 4-character group into `o`; `*nout` gets 1 to 3. Padding is
 * allowed only in the last group, only as its final one or two characters,
 * and the bits it hides must be zero (otherwise two encodings would decode
 * to the same octets and the form would not be canonical). */
static httpa_err b64_group(const uint8_t g[4], bool last, uint8_t o[3], size_t *nout)
{
    int a = b64_values[g[0]], b = b64_values[g[1]], c = b64_values[g[2]], d = b64_values[g[3]];
    size_t pad = 0;
    if ((a | b | c | d) < 0) { /* padding, or not base64 at all */
        if (!last || a < 0 || b < 0)
            return HTTPA_ERR_BAD_REQUEST;
        if (g[2] == '=' && g[3] == '=')
            pad = 2, c = d = 0;
        else if (c >= 0 && g[3] == '=')
            pad = 1, d = 0;
        else
            return HTTPA_ERR_BAD_REQUEST;
    }
    uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
        return HTTPA_ERR_BAD_REQUEST;
    o[0] = (uint8_t)(w >> 16);
    o[1] = (uint8_t)(w >> 8);
    o[2] = (uint8_t)w;
    *nout = 3 - pad;
    return HTTPA_OK;
}

/* ---- parser ------------------------------------------------------------- */

/* In the counting pass (`build` false) only `used` advances; in the
 * building pass the four regions point into the arena it sized. */
typedef struct sf_counts {
    size_t members, items, params, bytes;
} sf_counts;

typedef struct sf_parser {
    const uint8_t *pos;
    const uint8_t *end;
    httpa_sf_limits lim;
    httpa_sf_member *members;
    httpa_sf_item *items;
    httpa_sf_param *params;
    uint8_t *bytes;
    sf_counts used;
    bool build;
    bool duplicate_keys;
} sf_parser;

static bool building(const sf_parser *ps)
{
    return ps->build;
}

static int peek(const sf_parser *ps)
{
    return ps->pos < ps->end ? *ps->pos : -1;
}

static void skip_sp(sf_parser *ps)
{
    while (peek(ps) == ' ')
        ps->pos++;
}

static void skip_ows(sf_parser *ps)
{
    while (peek(ps) == ' ' || peek(ps) == '\t')
        ps->pos++;
}

static void emit(sf_parser *ps, uint8_t c)
{
    if (building(ps))
        ps->bytes[ps->used.bytes] = c;
    ps->used.bytes++;
}

static void emit_n(sf_parser *ps, const uint8_t *p, size_t n)
{
    if (building(ps))
        memcpy(ps->bytes + ps->used.bytes, p, n);
    ps->used.bytes += n;
}

/* NUL-terminate octets emitted since `start` and describe them in `b`. */
static void finish_bytes(sf_parser *ps, httpa_sf_bare *b, httpa_sf_type t, size_t start)
{
    emit(ps, 0);
    b->type = t;
    b->bytes = building(ps) ? ps->bytes + start : NULL;
    b->len = ps->used.bytes - start - 1;
}

static httpa_err parse_number(sf_parser *ps, httpa_sf_bare *b)
{
    static const int64_t frac_scale[] = {1000, 100, 10, 1};
    bool neg = false, dec = false;
    int64_t ip = 0, fp = 0;
    size_t nint = 0, nfrac = 0;
    if (peek(ps) == '-') {
        neg = true;
        ps->pos++;
    }
    if (!is_digit(peek(ps)))
        return HTTPA_ERR_BAD_REQUEST;
    for (int c; (c = peek(ps)) >= 0; ps->pos++) {
        if (is_digit(c) && dec) {
            if (++nfrac > SF_DEC_FRAC_DIGITS)
                return HTTPA_ERR_BAD_REQUEST;
            fp = fp * 10 + (c - '0');
        } else if (is_digit(c)) {
            if (++nint > SF_INT_DIGITS)
                return HTTPA_ERR_BAD_REQUEST;
            ip = ip * 10 + (c - '0');
        } else if (c == '.' && !dec) {
            if (nint > SF_DEC_INT_DIGITS)
                return HTTPA_ERR_BAD_REQUEST;
            dec = true;
        } else {
            break;
        }
    }
    if (dec && nfrac == 0)
        return HTTPA_ERR_BAD_REQUEST;
    b->type = dec ? HTTPA_SF_DECIMAL : HTTPA_SF_INTEGER;
    b->integer = dec ? ip * 1000 + fp * frac_scale[nfrac] : ip;
    if (neg)
        b->integer = -b->integer;
    return HTTPA_OK;
}

static httpa_err parse_string(sf_parser *ps, httpa_sf_bare *b)
{
    size_t start = ps->used.bytes;
    ps->pos++;
    while (ps->pos < ps->end) {
        uint8_t c = *ps->pos++;
        if (c == '"') {
            finish_bytes(ps, b, HTTPA_SF_STRING, start);
            return HTTPA_OK;
        }
        if (c == '\\') {
            if (ps->pos == ps->end)
                return HTTPA_ERR_BAD_REQUEST;
            c = *ps->pos++;
            if (c != '"' && c != '\\')
                return HTTPA_ERR_BAD_REQUEST;
        } else if (!is_visible(c)) {
            return HTTPA_ERR_BAD_REQUEST;
        }
        emit(ps, c);
    }
    return HTTPA_ERR_BAD_REQUEST;
}

static httpa_err parse_token(sf_parser *ps, httpa_sf_bare *b)
{
    size_t start = ps->used.bytes;
    /* The caller saw ALPHA or "*" first. */
    do {
        emit(ps, *ps->pos++);
    } while (is_token_char(peek(ps)));
    finish_bytes(ps, b, HTTPA_SF_TOKEN, start);
    return HTTPA_OK;
}

static httpa_err parse_binary(sf_parser *ps, httpa_sf_bare *b)
{
    size_t start = ps->used.bytes;
    ps->pos++;
    const uint8_t *close = memchr(ps->pos, ':', (size_t)(ps->end - ps->pos));
    if (close == NULL || (close - ps->pos) % 4 != 0)
        return HTTPA_ERR_BAD_REQUEST;
    for (; ps->pos < close; ps->pos += 4) {
        uint8_t o[3];
        size_t n;
        httpa_err e = b64_group(ps->pos, close - ps->pos == 4, o, &n);
        if (e != HTTPA_OK)
            return e;
        emit_n(ps, o, n);
    }
    ps->pos++;
    finish_bytes(ps, b, HTTPA_SF_BINARY, start);
    return HTTPA_OK;
}

static httpa_err parse_boolean(sf_parser *ps, httpa_sf_bare *b)
{
    ps->pos++;
    int c = peek(ps);
    if (c != '0' && c != '1')
        return HTTPA_ERR_BAD_REQUEST;
    ps->pos++;
    b->type = HTTPA_SF_BOOLEAN;
    b->boolean = c == '1';
    return HTTPA_OK;
}

static httpa_err parse_date(sf_parser *ps, httpa_sf_bare *b)
{
    ps->pos++;
    httpa_err e = parse_number(ps, b);
    if (e != HTTPA_OK)
        return e;
    if (b->type != HTTPA_SF_INTEGER)
        return HTTPA_ERR_BAD_REQUEST;
    b->type = HTTPA_SF_DATE;
    return HTTPA_OK;
}

/* RFC 9651 section 4.2.10 accepts only lowercase hex in escapes. */
static int lc_hex(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static httpa_err parse_pct_octet(sf_parser *ps, uint8_t *octet)
{
    if (ps->end - ps->pos < 2)
        return HTTPA_ERR_BAD_REQUEST;
    int hi = lc_hex(ps->pos[0]), lo = lc_hex(ps->pos[1]);
    if (hi < 0 || lo < 0)
        return HTTPA_ERR_BAD_REQUEST;
    ps->pos += 2;
    *octet = (uint8_t)(hi << 4 | lo);
    return HTTPA_OK;
}

static httpa_err parse_display(sf_parser *ps, httpa_sf_bare *b)
{
    size_t start = ps->used.bytes;
    utf8_state st = {0};
    ps->pos++;
    if (peek(ps) != '"')
        return HTTPA_ERR_BAD_REQUEST;
    ps->pos++;
    while (ps->pos < ps->end) {
        uint8_t c = *ps->pos++;
        if (!is_visible(c))
            return HTTPA_ERR_BAD_REQUEST;
        if (c == '"') {
            if (st.need != 0)
                return HTTPA_ERR_BAD_REQUEST;
            finish_bytes(ps, b, HTTPA_SF_DISPLAY_STRING, start);
            return HTTPA_OK;
        }
        if (c == '%') {
            httpa_err e = parse_pct_octet(ps, &c);
            if (e != HTTPA_OK)
                return e;
        }
        if (!utf8_step(&st, c))
            return HTTPA_ERR_BAD_REQUEST;
        emit(ps, c);
    }
    return HTTPA_ERR_BAD_REQUEST;
}

static httpa_err parse_bare(sf_parser *ps, httpa_sf_bare *b)
{
    int c = peek(ps);
    *b = (httpa_sf_bare){0};
    if (c == '-' || is_digit(c))
        return parse_number(ps, b);
    if (c == '"')
        return parse_string(ps, b);
    if (c == '*' || is_alpha(c))
        return parse_token(ps, b);
    if (c == ':')
        return parse_binary(ps, b);
    if (c == '?')
        return parse_boolean(ps, b);
    if (c == '@')
        return parse_date(ps, b);
    if (c == '%')
        return parse_display(ps, b);
    return HTTPA_ERR_BAD_REQUEST;
}

/* Emit an sf-key; `*at` is where it starts in the byte region. */
static httpa_err parse_key(sf_parser *ps, size_t *at)
{
    if (!is_key_first(peek(ps)))
        return HTTPA_ERR_BAD_REQUEST;
    *at = ps->used.bytes;
    while (is_key_char(peek(ps)))
        emit(ps, *ps->pos++);
    emit(ps, 0);
    return HTTPA_OK;
}

static const char *key_at(const sf_parser *ps, size_t at)
{
    return (const char *)ps->bytes + at;
}

/* When building, a key seen before among the `n` entries is dropped from
 * the byte region again and its earlier entry is returned: RFC 9651 keeps
 * the first position and the last value. */
static httpa_sf_param *claim_param(sf_parser *ps, size_t first, size_t *n, size_t at)
{
    if (!building(ps)) {
        ps->used.params++;
        return NULL;
    }
    httpa_sf_param *p = ps->params + first;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(p[i].key, key_at(ps, at)) == 0) {
            ps->used.bytes = at;
            ps->duplicate_keys = true;
            return &p[i];
        }
    }
    p = &ps->params[ps->used.params++];
    p->key = key_at(ps, at);
    (*n)++;
    return p;
}

static httpa_err parse_params(sf_parser *ps, const httpa_sf_param **out, size_t *nout)
{
    size_t first = ps->used.params, n = 0, seen = 0;
    while (peek(ps) == ';') {
        size_t at;
        httpa_sf_bare v = {.type = HTTPA_SF_BOOLEAN, .boolean = true};
        ps->pos++;
        skip_sp(ps);
        /* Counted before de-duplication: the limit bounds the parser's work. */
        if (++seen > ps->lim.max_params)
            return HTTPA_ERR_TOO_LARGE;
        httpa_err e = parse_key(ps, &at);
        if (e != HTTPA_OK)
            return e;
        httpa_sf_param *slot = claim_param(ps, first, &n, at);
        if (peek(ps) == '=') {
            ps->pos++;
            if ((e = parse_bare(ps, &v)) != HTTPA_OK)
                return e;
        }
        if (slot != NULL)
            slot->value = v;
    }
    *out = building(ps) && n != 0 ? ps->params + first : NULL;
    *nout = n;
    return HTTPA_OK;
}

static httpa_err parse_item(sf_parser *ps, httpa_sf_item *it)
{
    httpa_err e = parse_bare(ps, &it->bare);
    if (e != HTTPA_OK)
        return e;
    return parse_params(ps, &it->params, &it->nparams);
}

/* Inner lists do not nest, so the items of one inner list are stored one
 * after another in the item region with nothing in between. */
static httpa_err parse_inner_list(sf_parser *ps, httpa_sf_member *m)
{
    size_t first = ps->used.items, n = 0;
    ps->pos++;
    while (ps->pos < ps->end) {
        httpa_sf_item it = {0};
        skip_sp(ps);
        if (peek(ps) == ')') {
            ps->pos++;
            m->is_inner = true;
            m->inner = building(ps) && n != 0 ? ps->items + first : NULL;
            m->ninner = n;
            return parse_params(ps, &m->params, &m->nparams);
        }
        if (++n > ps->lim.max_inner)
            return HTTPA_ERR_TOO_LARGE;
        httpa_err e = parse_item(ps, &it);
        if (e != HTTPA_OK)
            return e;
        if (building(ps))
            ps->items[ps->used.items] = it;
        ps->used.items++;
        if (peek(ps) != ' ' && peek(ps) != ')')
            return HTTPA_ERR_BAD_REQUEST;
    }
    return HTTPA_ERR_BAD_REQUEST;
}

static httpa_err parse_member(sf_parser *ps, httpa_sf_member *m)
{
    if (peek(ps) == '(')
        return parse_inner_list(ps, m);
    return parse_item(ps, &m->item);
}

/* Between members: OWS "," OWS, and a comma must be followed by a member. */
static httpa_err parse_separator(sf_parser *ps, bool *more)
{
    skip_ows(ps);
    *more = ps->pos < ps->end;
    if (!*more)
        return HTTPA_OK;
    if (*ps->pos++ != ',')
        return HTTPA_ERR_BAD_REQUEST;
    skip_ows(ps);
    return ps->pos < ps->end ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
}

/* A new member slot, or (dictionary key seen before) the earlier one. */
static httpa_sf_member *claim_member(sf_parser *ps, size_t *n, const size_t *at)
{
    if (!building(ps)) {
        ps->used.members++;
        return NULL;
    }
    for (size_t i = 0; at != NULL && i < *n; i++) {
        if (strcmp(ps->members[i].key, key_at(ps, *at)) == 0) {
            ps->used.bytes = *at;
            ps->duplicate_keys = true;
            return &ps->members[i];
        }
    }
    httpa_sf_member *m = &ps->members[ps->used.members++];
    m->key = at != NULL ? key_at(ps, *at) : NULL;
    (*n)++;
    return m;
}

/* One dictionary member: key, then "=" member, or parameters on true. */
static httpa_err parse_dict_member(sf_parser *ps, size_t *n)
{
    size_t at;
    httpa_sf_member m = {0};
    httpa_err e = parse_key(ps, &at);
    if (e != HTTPA_OK)
        return e;
    httpa_sf_member *slot = claim_member(ps, n, &at);
    if (peek(ps) == '=') {
        ps->pos++;
        e = parse_member(ps, &m);
    } else {
        m.item.bare = (httpa_sf_bare){.type = HTTPA_SF_BOOLEAN, .boolean = true};
        e = parse_params(ps, &m.item.params, &m.item.nparams);
    }
    if (e == HTTPA_OK && slot != NULL) {
        m.key = slot->key;
        *slot = m;
    }
    return e;
}

static httpa_err parse_list_member(sf_parser *ps, size_t *n)
{
    httpa_sf_member m = {0};
    httpa_sf_member *slot = claim_member(ps, n, NULL);
    httpa_err e = parse_member(ps, &m);
    if (e == HTTPA_OK && slot != NULL)
        *slot = m;
    return e;
}

static httpa_err parse_members(sf_parser *ps, bool dict, httpa_sf_value *v)
{
    size_t n = 0, seen = 0;
    bool more = ps->pos < ps->end;
    while (more) {
        if (++seen > ps->lim.max_members)
            return HTTPA_ERR_TOO_LARGE;
        httpa_err e = dict ? parse_dict_member(ps, &n) : parse_list_member(ps, &n);
        if (e == HTTPA_OK)
            e = parse_separator(ps, &more);
        if (e != HTTPA_OK)
            return e;
    }
    v->members = building(ps) && n != 0 ? ps->members : NULL;
    v->nmembers = n;
    return HTTPA_OK;
}

static httpa_err parse_field(sf_parser *ps, httpa_sf_kind kind, httpa_sf_value *v)
{
    httpa_err e;
    skip_sp(ps);
    if (kind == HTTPA_SF_ITEM)
        e = parse_item(ps, &v->item);
    else
        e = parse_members(ps, kind == HTTPA_SF_DICT, v);
    if (e != HTTPA_OK)
        return e;
    skip_sp(ps);
    return ps->pos == ps->end ? HTTPA_OK : HTTPA_ERR_BAD_REQUEST;
}

static httpa_sf_limits resolve_limits(const httpa_sf_limits *lim)
{
    httpa_sf_limits l = lim != NULL ? *lim : sf_default_limits;
    if (l.max_input == 0)
        l.max_input = sf_default_limits.max_input;
    if (l.max_members == 0)
        l.max_members = sf_default_limits.max_members;
    if (l.max_inner == 0)
        l.max_inner = sf_default_limits.max_inner;
    if (l.max_params == 0)
        l.max_params = sf_default_limits.max_params;
    return l;
}

/* Reserve `n` elements of `size` octets at *total (aligned for any type);
 * false on size_t overflow. */
static bool layout_add(size_t *total, size_t *off, size_t n, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size_t at = *total;
    if (at % align != 0) {
        if (SIZE_MAX - at < align)
            return false;
        at += align - at % align;
    }
    if (size != 0 && n > (SIZE_MAX - at) / size)
        return false;
    *off = at;
    *total = at + n * size;
    return true;
}

/* Allocate the arena for what the counting pass found and point the
 * parser's regions into it; the value header sits at its start. */
static httpa_err make_arena(sf_parser *ps, httpa_sf_value **v)
{
    size_t total = 0, om, oi, op, ob, ov;
    const sf_counts c = ps->used;
    if (!layout_add(&total, &ov, 1, sizeof(httpa_sf_value)) ||
        !layout_add(&total, &om, c.members, sizeof(httpa_sf_member)) ||
        !layout_add(&total, &oi, c.items, sizeof(httpa_sf_item)) ||
        !layout_add(&total, &op, c.params, sizeof(httpa_sf_param)) ||
        !layout_add(&total, &ob, c.bytes, 1))
        return HTTPA_ERR_TOO_LARGE;
    uint8_t *mem = calloc(1, total);
    if (mem == NULL)
        return HTTPA_ERR_NOMEM;
    *v = (httpa_sf_value *)(void *)(mem + ov);
    ps->members = (httpa_sf_member *)(void *)(mem + om);
    ps->items = (httpa_sf_item *)(void *)(mem + oi);
    ps->params = (httpa_sf_param *)(void *)(mem + op);
    ps->bytes = mem + ob;
    ps->build = true;
    return HTTPA_OK;
}

httpa_err httpa_sf_parse(httpa_sf_kind kind, const char *in, size_t len,
                         const httpa_sf_limits *lim, httpa_sf_value **out)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *out = NULL;
    if ((in == NULL && len != 0) ||
        (kind != HTTPA_SF_ITEM && kind != HTTPA_SF_LIST && kind != HTTPA_SF_DICT))
        return HTTPA_ERR_INVALID_ARG;
    const uint8_t *start = in != NULL ? (const uint8_t *)in : (const uint8_t *)"";
    sf_parser ps = {.pos = start, .end = start + len, .lim = resolve_limits(lim)};
    if (len > ps.lim.max_input)
        return HTTPA_ERR_TOO_LARGE;

    httpa_sf_value counted = {0};
    httpa_sf_value *v;
    httpa_err e = parse_field(&ps, kind, &counted);
    if (e == HTTPA_OK)
        e = make_arena(&ps, &v);
    if (e != HTTPA_OK)
        return e;
    ps.pos = start;
    ps.used = (sf_counts){0};
    /* Same input, same checks: the building pass cannot fail, but if it
     * ever did, report it rather than hand out a half-built value. */
    e = parse_field(&ps, kind, v);
    if (e != HTTPA_OK) {
        httpa_sf_free(v);
        return e;
    }
    v->kind = kind;
    v->duplicate_keys = ps.duplicate_keys;
    *out = v;
    return HTTPA_OK;
}

void httpa_sf_free(httpa_sf_value *v)
{
    /* The value header is the start of its arena. */
    free(v);
}

/* ---- serializer ----------------------------------------------------------- */

static httpa_err put_char(httpa_buf *out, char c)
{
    return httpa_buf_append_u8(out, (uint8_t)c);
}

/* Give back what a failed serialization appended, so `out` holds either the
 * whole piece or nothing of it. */
static httpa_err rollback(httpa_buf *out, size_t mark, httpa_err e)
{
    if (e != HTTPA_OK && out->len > mark) {
        if (out->sensitive)
            httpa_wipe(out->base + mark, out->len - mark);
        out->len = mark;
    }
    return e;
}

static httpa_err put_magnitude(httpa_buf *out, uint64_t v, size_t min_digits)
{
    char d[20];
    size_t n = 0;
    while (v != 0 || n < min_digits) {
        d[sizeof(d) - ++n] = (char)('0' + v % 10);
        v /= 10;
    }
    return httpa_buf_append(out, d + sizeof(d) - n, n);
}

static httpa_err put_signed(httpa_buf *out, int64_t v)
{
    if (v < -SF_NUM_LIMIT || v > SF_NUM_LIMIT)
        return HTTPA_ERR_BAD_REQUEST;
    if (v < 0) {
        httpa_err e = put_char(out, '-');
        if (e != HTTPA_OK)
            return e;
    }
    return put_magnitude(out, (uint64_t)(v < 0 ? -v : v), 1);
}

/* RFC 9651 section 4.1.5. The value is already exact thousandths, so the
 * section's round-half-even step has nothing left to round (builders that
 * start from finer values round when converting to thousandths). What is
 * left: at most 12 integer digits, at least one fraction digit, no trailing
 * zeros. */
static httpa_err put_decimal(httpa_buf *out, int64_t thousandths)
{
    if (thousandths < -SF_NUM_LIMIT || thousandths > SF_NUM_LIMIT)
        return HTTPA_ERR_BAD_REQUEST;
    uint64_t mag = (uint64_t)(thousandths < 0 ? -thousandths : thousandths);
    uint64_t frac = mag % 1000;
    size_t nfrac = 3;
    httpa_err e = HTTPA_OK;
    for (; nfrac > 1 && frac % 10 == 0; nfrac--)
        frac /= 10;
    if (thousandths < 0)
        e = put_char(out, '-');
    if (e == HTTPA_OK)
        e = put_magnitude(out, mag / 1000, 1);
    if (e == HTTPA_OK)
        e = put_char(out, '.');
    if (e == HTTPA_OK)
        e = put_magnitude(out, frac, nfrac);
    return e;
}

static httpa_err put_string_raw(httpa_buf *out, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_visible(s[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    httpa_err e = put_char(out, '"');
    for (size_t i = 0; i < len && e == HTTPA_OK; i++) {
        if (s[i] == '"' || s[i] == '\\')
            e = put_char(out, '\\');
        if (e == HTTPA_OK)
            e = httpa_buf_append_u8(out, s[i]);
    }
    return e != HTTPA_OK ? e : put_char(out, '"');
}

static httpa_err put_token_raw(httpa_buf *out, const uint8_t *t, size_t len)
{
    if (len == 0 || !(t[0] == '*' || is_alpha(t[0])))
        return HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 1; i < len; i++) {
        if (!is_token_char(t[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    return httpa_buf_append(out, t, len);
}

static httpa_err put_key_raw(httpa_buf *out, const uint8_t *k, size_t len)
{
    if (len == 0 || !is_key_first(k[0]))
        return HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 1; i < len; i++) {
        if (!is_key_char(k[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    return httpa_buf_append(out, k, len);
}

static void b64_encode_group(const uint8_t *p, size_t n, uint8_t o[4])
{
    uint32_t w = (uint32_t)p[0] << 16;
    if (n > 1)
        w |= (uint32_t)p[1] << 8;
    if (n > 2)
        w |= p[2];
    o[0] = (uint8_t)b64_alphabet[w >> 18 & 63];
    o[1] = (uint8_t)b64_alphabet[w >> 12 & 63];
    o[2] = n > 1 ? (uint8_t)b64_alphabet[w >> 6 & 63] : '=';
    o[3] = n > 2 ? (uint8_t)b64_alphabet[w & 63] : '=';
}

static httpa_err put_binary_raw(httpa_buf *out, const uint8_t *p, size_t len)
{
    size_t groups = len / 3 + (len % 3 != 0);
    uint8_t *w;
    if (groups > SIZE_MAX / 4 - 2)
        return HTTPA_ERR_TOO_LARGE;
    httpa_err e = httpa_buf_extend(out, groups * 4 + 2, &w);
    if (e != HTTPA_OK)
        return e;
    *w++ = ':';
    for (size_t i = 0; i < len; i += 3, w += 4)
        b64_encode_group(p + i, len - i < 3 ? len - i : 3, w);
    *w = ':';
    return HTTPA_OK;
}

/* RFC 9651 section 4.1.11: the content must be Unicode, so octets that are
 * not well-formed UTF-8 cannot be serialized. */
static httpa_err put_display_raw(httpa_buf *out, const uint8_t *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    utf8_state st = {0};
    for (size_t i = 0; i < len; i++) {
        if (!utf8_step(&st, s[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    if (st.need != 0)
        return HTTPA_ERR_BAD_REQUEST;
    httpa_err e = httpa_buf_append(out, "%\"", 2);
    for (size_t i = 0; i < len && e == HTTPA_OK; i++) {
        uint8_t c = s[i];
        if (c == '%' || c == '"' || !is_visible(c)) {
            const uint8_t esc[3] = {'%', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
            e = httpa_buf_append(out, esc, sizeof(esc));
        } else {
            e = httpa_buf_append_u8(out, c);
        }
    }
    return e != HTTPA_OK ? e : put_char(out, '"');
}

static httpa_err put_bare_raw(httpa_buf *out, const httpa_sf_bare *b)
{
    bool has_bytes = b->type == HTTPA_SF_STRING || b->type == HTTPA_SF_TOKEN ||
                     b->type == HTTPA_SF_BINARY || b->type == HTTPA_SF_DISPLAY_STRING;
    if (has_bytes && b->bytes == NULL && b->len != 0)
        return HTTPA_ERR_INVALID_ARG;
    switch (b->type) {
    case HTTPA_SF_INTEGER:
        return put_signed(out, b->integer);
    case HTTPA_SF_DECIMAL:
        return put_decimal(out, b->integer);
    case HTTPA_SF_STRING:
        return put_string_raw(out, b->bytes, b->len);
    case HTTPA_SF_TOKEN:
        return put_token_raw(out, b->bytes, b->len);
    case HTTPA_SF_BINARY:
        return put_binary_raw(out, b->bytes, b->len);
    case HTTPA_SF_BOOLEAN:
        return httpa_buf_append(out, b->boolean ? "?1" : "?0", 2);
    case HTTPA_SF_DATE: {
        httpa_err e = put_char(out, '@');
        return e != HTTPA_OK ? e : put_signed(out, b->integer);
    }
    case HTTPA_SF_DISPLAY_STRING:
        return put_display_raw(out, b->bytes, b->len);
    }
    return HTTPA_ERR_BAD_REQUEST;
}

static httpa_err put_key_str(httpa_buf *out, const char *key)
{
    if (key == NULL)
        return HTTPA_ERR_INVALID_ARG;
    return put_key_raw(out, (const uint8_t *)key, strlen(key));
}

static bool is_bare_true(const httpa_sf_bare *b)
{
    return b->type == HTTPA_SF_BOOLEAN && b->boolean;
}

static httpa_err put_params(httpa_buf *out, const httpa_sf_param *p, size_t n)
{
    httpa_err e = p == NULL && n != 0 ? HTTPA_ERR_INVALID_ARG : HTTPA_OK;
    for (size_t i = 0; i < n && e == HTTPA_OK; i++) {
        e = put_char(out, ';');
        if (e == HTTPA_OK)
            e = put_key_str(out, p[i].key);
        if (e == HTTPA_OK && !is_bare_true(&p[i].value)) {
            e = put_char(out, '=');
            if (e == HTTPA_OK)
                e = put_bare_raw(out, &p[i].value);
        }
    }
    return e;
}

static httpa_err put_item(httpa_buf *out, const httpa_sf_item *it)
{
    httpa_err e = put_bare_raw(out, &it->bare);
    return e != HTTPA_OK ? e : put_params(out, it->params, it->nparams);
}

static httpa_err put_inner_list(httpa_buf *out, const httpa_sf_member *m)
{
    if (m->inner == NULL && m->ninner != 0)
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = put_char(out, '(');
    for (size_t i = 0; i < m->ninner && e == HTTPA_OK; i++) {
        if (i != 0)
            e = put_char(out, ' ');
        if (e == HTTPA_OK)
            e = put_item(out, &m->inner[i]);
    }
    if (e == HTTPA_OK)
        e = put_char(out, ')');
    return e != HTTPA_OK ? e : put_params(out, m->params, m->nparams);
}

static httpa_err put_member(httpa_buf *out, const httpa_sf_member *m, bool dict)
{
    if (dict) {
        httpa_err e = put_key_str(out, m->key);
        if (e != HTTPA_OK)
            return e;
        /* A true item is written as its key alone (section 4.1.2). */
        if (!m->is_inner && is_bare_true(&m->item.bare))
            return put_params(out, m->item.params, m->item.nparams);
        if ((e = put_char(out, '=')) != HTTPA_OK)
            return e;
    }
    return m->is_inner ? put_inner_list(out, m) : put_item(out, &m->item);
}

static httpa_err put_members(httpa_buf *out, const httpa_sf_value *v, bool dict)
{
    if (v->members == NULL && v->nmembers != 0)
        return HTTPA_ERR_INVALID_ARG;
    httpa_err e = HTTPA_OK;
    for (size_t i = 0; i < v->nmembers && e == HTTPA_OK; i++) {
        if (i != 0)
            e = httpa_buf_append(out, ", ", 2);
        if (e == HTTPA_OK)
            e = put_member(out, &v->members[i], dict);
    }
    return e;
}

httpa_err httpa_sf_serialize(const httpa_sf_value *v, httpa_buf *out)
{
    if (v == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    size_t mark = out->len;
    httpa_err e = HTTPA_ERR_INVALID_ARG;
    switch (v->kind) {
    case HTTPA_SF_ITEM:
        e = put_item(out, &v->item);
        break;
    case HTTPA_SF_LIST:
    case HTTPA_SF_DICT:
        e = put_members(out, v, v->kind == HTTPA_SF_DICT);
        break;
    }
    return rollback(out, mark, e);
}

httpa_err httpa_sf_put_bare(httpa_buf *out, const httpa_sf_bare *b)
{
    if (out == NULL || b == NULL)
        return HTTPA_ERR_INVALID_ARG;
    size_t mark = out->len;
    return rollback(out, mark, put_bare_raw(out, b));
}

httpa_err httpa_sf_put_integer(httpa_buf *out, int64_t v)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    size_t mark = out->len;
    return rollback(out, mark, put_signed(out, v));
}

httpa_err httpa_sf_put_token(httpa_buf *out, const char *tok, size_t len)
{
    if (out == NULL || (tok == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    return put_token_raw(out, (const uint8_t *)tok, len);
}

httpa_err httpa_sf_put_string(httpa_buf *out, const char *s, size_t len)
{
    if (out == NULL || (s == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    size_t mark = out->len;
    return rollback(out, mark, put_string_raw(out, (const uint8_t *)s, len));
}

httpa_err httpa_sf_put_binary(httpa_buf *out, const uint8_t *p, size_t len)
{
    if (out == NULL || (p == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    return put_binary_raw(out, p, len);
}

httpa_err httpa_sf_put_boolean(httpa_buf *out, bool v)
{
    if (out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    return httpa_buf_append(out, v ? "?1" : "?0", 2);
}

httpa_err httpa_sf_put_key(httpa_buf *out, const char *key, size_t len)
{
    if (out == NULL || (key == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    return put_key_raw(out, (const uint8_t *)key, len);
}

/* ---- lookup --------------------------------------------------------------- */

/* Searched from the end: if a hand-built array repeats a key, the answer is
 * the value a parser of its serialization would keep (the last). */
const httpa_sf_param *httpa_sf_param_find(const httpa_sf_param *params, size_t n,
                                          const char *key)
{
    if (params == NULL || key == NULL)
        return NULL;
    for (size_t i = n; i-- > 0;) {
        if (params[i].key != NULL && strcmp(params[i].key, key) == 0)
            return &params[i];
    }
    return NULL;
}

const httpa_sf_member *httpa_sf_dict_find(const httpa_sf_value *v, const char *key)
{
    if (v == NULL || key == NULL || v->kind != HTTPA_SF_DICT || v->members == NULL)
        return NULL;
    for (size_t i = v->nmembers; i-- > 0;) {
        const char *k = v->members[i].key;
        if (k != NULL && strcmp(k, key) == 0)
            return &v->members[i];
    }
    return NULL;
}

bool httpa_sf_bare_is(const httpa_sf_bare *b, const char *s)
{
    if (b == NULL || (b->type != HTTPA_SF_TOKEN && b->type != HTTPA_SF_STRING &&
                      b->type != HTTPA_SF_BINARY && b->type != HTTPA_SF_DISPLAY_STRING))
        return false;
    size_t n = strlen(s);
    return b->len == n && (n == 0 || memcmp(b->bytes, s, n) == 0);
}
