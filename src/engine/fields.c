/* Attest-* fields of one message, parsed with the structure and member types
 * of profile table 4.2 (rules of 4.1), and their canonical serializations,
 * which are what the AHL (section 5, ahl.c) covers. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fields.h"

_Static_assert(HTTPA_F__COUNT <= 32, "httpa_fields.present has one bit per field");

/* What the item, or every member, of a field must be. */
typedef enum member_rule {
    R_TOKEN,
    R_INTEGER,
    R_STRING,
    R_BINARY,
    R_QUOTE,  /* inner list (Token Byte-Sequence): exactly two items (7.4) */
    R_POLICY, /* any type, but direct, allow-untrusted, fresh are Boolean */
} member_rule;

enum {
    F_UNIQUE_KEYS = 1u << 0, /* a repeated dictionary key is a parse failure */
    F_ONE_MEMBER = 1u << 1,  /* "Dictionary with exactly one member" */
    F_OCTETS32 = 1u << 2,    /* Byte Sequence of exactly 32 octets */
    F_UUID4 = 1u << 3,       /* the Attest-Base-ID form of 4.3 */
};

typedef struct field_desc {
    const char *name;
    httpa_sf_kind kind;
    member_rule rule;
    unsigned flags;
} field_desc;

#define ITEM_OF(n, r, fl) {n, HTTPA_SF_ITEM, r, fl}
#define LIST_OF(n, r, fl) {n, HTTPA_SF_LIST, r, fl}
#define DICT_OF(n, r, fl) {n, HTTPA_SF_DICT, r, fl}

/* Table 4.2, indexed by httpa_fid (ascending names). Attest-Key-Shares does
 * not take F_UNIQUE_KEYS: the sf_canonicalization vector accepts a repeated
 * group key there (last value wins, RFC 9651); the server's single share and
 * the secrets (9.5: "Names MUST be unique") do. */
static const field_desc k_fields[HTTPA_F__COUNT] = {
    [HTTPA_F_BASE_CREATION] = ITEM_OF("attest-base-creation", R_TOKEN, 0),
    [HTTPA_F_BASE_ID] = ITEM_OF("attest-base-id", R_STRING, F_UUID4),
    [HTTPA_F_BASE_TERMINATION] = ITEM_OF("attest-base-termination", R_TOKEN, 0),
    [HTTPA_F_BINDER] = ITEM_OF("attest-binder", R_BINARY, 0),
    [HTTPA_F_BLOCKLIST] = LIST_OF("attest-blocklist", R_STRING, 0),
    [HTTPA_F_CARGO] = ITEM_OF("attest-cargo", R_BINARY, 0),
    [HTTPA_F_CIPHER_SUITE] = ITEM_OF("attest-cipher-suite", R_TOKEN, 0),
    [HTTPA_F_CIPHER_SUITES] = LIST_OF("attest-cipher-suites", R_TOKEN, 0),
    [HTTPA_F_DATE] = ITEM_OF("attest-date", R_INTEGER, 0),
    [HTTPA_F_ERROR] = ITEM_OF("attest-error", R_TOKEN, 0),
    [HTTPA_F_EXPIRES] = ITEM_OF("attest-expires", R_INTEGER, 0),
    [HTTPA_F_KEY_SHARE] = DICT_OF("attest-key-share", R_BINARY, F_UNIQUE_KEYS | F_ONE_MEMBER),
    [HTTPA_F_KEY_SHARES] = DICT_OF("attest-key-shares", R_BINARY, 0),
    [HTTPA_F_POLICIES] = DICT_OF("attest-policies", R_POLICY, 0),
    [HTTPA_F_QUOTES] = LIST_OF("attest-quotes", R_QUOTE, 0),
    [HTTPA_F_RANDOM] = ITEM_OF("attest-random", R_BINARY, F_OCTETS32),
    [HTTPA_F_SECRETS] = DICT_OF("attest-secrets", R_BINARY, F_UNIQUE_KEYS),
    [HTTPA_F_SIGNATURE] = ITEM_OF("attest-signature", R_BINARY, 0),
    [HTTPA_F_SIGNATURES] = LIST_OF("attest-signatures", R_TOKEN, 0),
    [HTTPA_F_SUPPORTED_CIPHER_SUITES] = LIST_OF("attest-supported-cipher-suites", R_TOKEN, 0),
    [HTTPA_F_SUPPORTED_GROUP] = ITEM_OF("attest-supported-group", R_TOKEN, 0),
    [HTTPA_F_SUPPORTED_GROUPS] = LIST_OF("attest-supported-groups", R_TOKEN, 0),
    [HTTPA_F_SUPPORTED_VERSIONS] = LIST_OF("attest-supported-versions", R_TOKEN, 0),
    [HTTPA_F_TICKET] = ITEM_OF("attest-ticket", R_BINARY, 0),
    [HTTPA_F_TRANSPORT] = LIST_OF("attest-transport", R_TOKEN, 0),
    [HTTPA_F_VERSION] = ITEM_OF("attest-version", R_TOKEN, 0),
    [HTTPA_F_VERSIONS] = LIST_OF("attest-versions", R_TOKEN, 0),
};

static const char *const k_policy_booleans[] = {"direct", "allow-untrusted", "fresh"};

#define ATTEST_PREFIX "attest-"
#define ATTEST_PREFIX_LEN (sizeof(ATTEST_PREFIX) - 1)

const char *httpa_fid_name(httpa_fid f)
{
    if ((unsigned)f >= HTTPA_F__COUNT)
        return "";
    return k_fields[f].name;
}

/* ---- names ---------------------------------------------------------- */

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Octet order of the lower-cased names: the order the AHL needs. */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = lower((unsigned char)a[i]), y = lower((unsigned char)b[i]);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* RFC 9110 tchar: an unknown name goes into the AHL verbatim (lower-cased),
 * so it must not smuggle separators, controls or NUL. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_attest_name(const httpa_header *h)
{
    return h->name_len >= ATTEST_PREFIX_LEN &&
           httpa_name_eq(h->name, ATTEST_PREFIX_LEN, ATTEST_PREFIX, ATTEST_PREFIX_LEN);
}

/* Binary search: k_fields is in ascending order of its lower-case names. */
static int find_known(const char *name, size_t len)
{
    int lo = 0, hi = HTTPA_F__COUNT - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *k = k_fields[mid].name;
        int c = name_cmp(name, len, k, strlen(k));
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* ---- grouping the field lines by name -------------------------------- */

typedef struct line_ref {
    const httpa_header *h;
    size_t idx; /* position in the message: keeps lines in received order */
} line_ref;

static int line_cmp(const void *pa, const void *pb)
{
    const line_ref *a = pa, *b = pb;
    int c = name_cmp(a->h->name, a->h->name_len, b->h->name, b->h->name_len);
    if (c != 0)
        return c;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Lines kept on the stack: a message rarely has more Attest-* lines. */
enum { LINES_ON_STACK = 32 };

/* Insertion sort: for the few lines of a usual message it beats qsort,
 * whose calls through a comparison pointer cost more than the sorting. */
static void sort_lines(line_ref *v, size_t n)
{
    if (n > LINES_ON_STACK) {
        qsort(v, n, sizeof(*v), line_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        line_ref x = v[i];
        size_t k = i;
        for (; k > 0 && line_cmp(&v[k - 1], &x) > 0; k--)
            v[k] = v[k - 1];
        v[k] = x;
    }
}

/* The Attest-* lines of `m`, sorted by lower-case name, then arrival order,
 * into `stack` when they fit, else into memory the caller frees. */
static httpa_err collect_lines(const httpa_msg *m, line_ref *stack, line_ref **out, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nheaders; i++)
        k += is_attest_name(&m->headers[i]);
    line_ref *v = stack;
    if (k > LINES_ON_STACK && (v = calloc(k, sizeof(*v))) == NULL)
        return HTTPA_ERR_NOMEM;
    k = 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (is_attest_name(&m->headers[i]))
            v[k++] = (line_ref){&m->headers[i], i};
    }
    sort_lines(v, k);
    *out = v;
    *n = k;
    return HTTPA_OK;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A line's value without leading and trailing SP and HTAB. */
static httpa_span trimmed(const httpa_header *h)
{
    const char *v = h->value;
    size_t a = 0, b = h->value_len;
    while (a < b && is_ows(v[a]))
        a++;
    while (b > a && is_ows(v[b - 1]))
        b--;
    return HTTPA_SPAN(v + a, b - a);
}

/* Lines joined with ", ", each trimmed of SP and HTAB first, as the profile's
 * reference canonicalization does; `out` is bounded by max_field_value. */
static httpa_err join_lines(const line_ref *lines, size_t n, httpa_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        httpa_span t = trimmed(lines[i].h);
        httpa_err e = HTTPA_OK;
        if (i > 0)
            e = httpa_buf_append(out, ", ", 2);
        if (e == HTTPA_OK && t.len > 0)
            e = httpa_buf_append(out, t.base, t.len);
        if (e != HTTPA_OK)
            return e;
    }
    return HTTPA_OK;
}

/* ---- member types ---------------------------------------------------- */

/* 4.1 rule 1: the RFC 9651 additions never appear in Attest-* fields. */
static bool bare_allowed(const httpa_sf_bare *b)
{
    return b->type != HTTPA_SF_DATE && b->type != HTTPA_SF_DISPLAY_STRING;
}

static bool params_allowed(const httpa_sf_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!bare_allowed(&p[i].value))
            return false;
    }
    return true;
}

static bool item_allowed(const httpa_sf_item *it)
{
    return bare_allowed(&it->bare) && params_allowed(it->params, it->nparams);
}

static bool item_is(const httpa_sf_item *it, httpa_sf_type t)
{
    return it->bare.type == t && item_allowed(it);
}

static bool rule_item_ok(member_rule r, const httpa_sf_item *it)
{
    switch (r) {
    case R_TOKEN:
        return item_is(it, HTTPA_SF_TOKEN);
    case R_INTEGER:
        return item_is(it, HTTPA_SF_INTEGER);
    case R_STRING:
        return item_is(it, HTTPA_SF_STRING);
    case R_BINARY:
        return item_is(it, HTTPA_SF_BINARY);
    case R_POLICY:
        return item_allowed(it);
    case R_QUOTE:
        return false; /* a quote is an inner list, never a bare item */
    }
    return false;
}

static bool inner_allowed(const httpa_sf_member *mb)
{
    for (size_t i = 0; i < mb->ninner; i++) {
        if (!item_allowed(&mb->inner[i]))
            return false;
    }
    return params_allowed(mb->params, mb->nparams);
}

static bool is_policy_boolean(const char *key)
{
    for (size_t i = 0; i < sizeof(k_policy_booleans) / sizeof(k_policy_booleans[0]); i++) {
        if (key != NULL && strcmp(key, k_policy_booleans[i]) == 0)
            return true;
    }
    return false;
}

static bool member_ok(member_rule r, const httpa_sf_member *mb)
{
    if (r == R_QUOTE)
        return mb->is_inner && mb->ninner == 2 && mb->inner[0].bare.type == HTTPA_SF_TOKEN &&
               mb->inner[1].bare.type == HTTPA_SF_BINARY && inner_allowed(mb);
    if (r == R_POLICY && is_policy_boolean(mb->key))
        return !mb->is_inner && item_is(&mb->item, HTTPA_SF_BOOLEAN);
    if (mb->is_inner)
        return r == R_POLICY && inner_allowed(mb); /* unknown policy member */
    return rule_item_ok(r, &mb->item);
}

static httpa_err check_members(const field_desc *d, const httpa_sf_value *v,
                               const httpa_limits *lim)
{
    /* 4.1 rule 2: "empty" must never differ from "absent" between two AHLs. */
    if (v->nmembers == 0)
        return HTTPA_ERR_BAD_REQUEST;
    if (v->nmembers > lim->max_sf_members)
        return HTTPA_ERR_TOO_LARGE;
    if ((d->flags & F_ONE_MEMBER) && v->nmembers != 1)
        return HTTPA_ERR_BAD_REQUEST;
    /* The parse kept only the last value of a repeated key; where names must
     * be unique that silent replacement is an error instead. */
    if ((d->flags & F_UNIQUE_KEYS) && v->duplicate_keys)
        return HTTPA_ERR_BAD_REQUEST;
    for (size_t i = 0; i < v->nmembers; i++) {
        if (!member_ok(d->rule, &v->members[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    return HTTPA_OK;
}

static httpa_err check_item(const field_desc *d, const httpa_sf_value *v)
{
    const httpa_sf_bare *b = &v->item.bare;
    if (!rule_item_ok(d->rule, &v->item))
        return HTTPA_ERR_BAD_REQUEST;
    if ((d->flags & F_OCTETS32) && b->len != 32)
        return HTTPA_ERR_BAD_REQUEST;
    if ((d->flags & F_UUID4) && !httpa_base_id_valid(b->bytes, b->len))
        return HTTPA_ERR_BAD_REQUEST;
    return HTTPA_OK;
}

static httpa_err check_shape(const field_desc *d, const httpa_sf_value *v,
                             const httpa_limits *lim)
{
    if (v->kind != d->kind)
        return HTTPA_ERR_BAD_REQUEST;
    if (d->kind == HTTPA_SF_ITEM)
        return check_item(d, v);
    return check_members(d, v, lim);
}

/* ---- one field ------------------------------------------------------- */

/* Canonical values may be longer than the input ("a,b" -> "a, b"), never
 * more than twice as long plus a little. */
static size_t canon_max(const httpa_limits *lim)
{
    size_t m = lim->max_field_value;
    return m > (SIZE_MAX - 64) / 2 ? SIZE_MAX : 2 * m + 64;
}

static httpa_err parse_known(httpa_fid id, httpa_span value, const httpa_limits *lim,
                             httpa_fields *f)
{
    const field_desc *d = &k_fields[id];
    httpa_sf_limits sl = {.max_input = lim->max_field_value,
                          .max_members = lim->max_sf_members};
    httpa_sf_value *v = NULL;
    httpa_err e = httpa_sf_parse(d->kind, value.len ? (const char *)value.base : "", value.len,
                                 &sl, &v);
    if (e != HTTPA_OK)
        return e;
    f->v[id] = v; /* owned by f from here on, also on failure below */
    f->present |= UINT32_C(1) << id;
    e = check_shape(d, v, lim);
    if (e == HTTPA_OK)
        e = httpa_sf_serialize(v, &f->canon[id]);
    return e;
}

static httpa_err add_unknown(const httpa_header *h, httpa_span joined, httpa_buf *value,
                             httpa_fields *f)
{
    for (size_t i = 0; i < h->name_len; i++) {
        if (!is_tchar((unsigned char)h->name[i]))
            return HTTPA_ERR_BAD_REQUEST;
    }
    /* Grows one at a time; the count is bounded by the message's lines. */
    httpa_unknown_field *u = realloc(f->unknown, (f->nunknown + 1) * sizeof(*u));
    if (u == NULL)
        return HTTPA_ERR_NOMEM;
    f->unknown = u;
    char *name = malloc(h->name_len + 1);
    if (name == NULL)
        return HTTPA_ERR_NOMEM;
    for (size_t i = 0; i < h->name_len; i++)
        name[i] = (char)lower((unsigned char)h->name[i]);
    name[h->name_len] = '\0';
    /* A single line was not copied into `value`: copy it now. */
    httpa_err e = value->len == 0 && joined.len != 0
                      ? httpa_buf_append(value, joined.base, joined.len)
                      : HTTPA_OK;
    if (e != HTTPA_OK) {
        free(name);
        return e;
    }
    /* Hand the value over; the caller starts a fresh buffer. */
    u[f->nunknown++] = (httpa_unknown_field){name, *value};
    httpa_buf_init(value, value->max);
    return HTTPA_OK;
}

/* Adds one field's octets to the running total of the message. */
static httpa_err account(size_t *total, size_t name_len, size_t value_len,
                         const httpa_limits *lim)
{
    if (name_len > UINT16_MAX)
        return HTTPA_ERR_TOO_LARGE;
    size_t add = name_len + value_len; /* each is bounded far below SIZE_MAX / 2 */
    if (add > lim->max_attest_fields || *total > lim->max_attest_fields - add)
        return HTTPA_ERR_TOO_LARGE;
    *total += add;
    return HTTPA_OK;
}

/* One group of lines that share a name (lines[0..n)). A single line, the
 * usual case, is parsed where it is; several are joined in `scratch`. */
static httpa_err parse_group(const line_ref *lines, size_t n, const httpa_limits *lim,
                             size_t *total, httpa_buf *scratch, httpa_fields *f)
{
    const httpa_header *h = lines[0].h;
    httpa_buf_reset(scratch);
    httpa_span value = trimmed(h);
    httpa_err e = HTTPA_OK;
    if (n > 1) {
        e = join_lines(lines, n, scratch);
        value = httpa_buf_span(scratch);
    } else if (value.len > lim->max_field_value) {
        e = HTTPA_ERR_TOO_LARGE; /* what appending it to `scratch` would say */
    }
    if (e == HTTPA_OK)
        e = account(total, h->name_len, value.len, lim);
    if (e != HTTPA_OK)
        return e;
    int id = find_known(h->name, h->name_len);
    if (id >= 0)
        return parse_known((httpa_fid)id, value, lim, f);
    return add_unknown(h, value, scratch, f);
}

static httpa_err parse_lines(const line_ref *lines, size_t n, const httpa_limits *lim,
                             httpa_fields *f)
{
    httpa_buf scratch;
    httpa_buf_init(&scratch, lim->max_field_value);
    size_t total = 0;
    httpa_err e = HTTPA_OK;
    for (size_t i = 0, j; i < n && e == HTTPA_OK; i = j) {
        for (j = i + 1; j < n; j++) {
            if (name_cmp(lines[i].h->name, lines[i].h->name_len, lines[j].h->name,
                         lines[j].h->name_len) != 0)
                break;
        }
        e = parse_group(lines + i, j - i, lim, &total, &scratch, f);
    }
    httpa_buf_free(&scratch);
    return e;
}

void httpa_fields_init(httpa_fields *f, const httpa_limits *lim)
{
    httpa_limits def = httpa_limits_default();
    if (lim == NULL)
        lim = &def;
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < HTTPA_F__COUNT; i++)
        httpa_buf_init(&f->canon[i], canon_max(lim));
}

httpa_err httpa_fields_parse(const httpa_msg *m, const httpa_limits *lim, httpa_fields *f)
{
    if (f == NULL)
        return HTTPA_ERR_INVALID_ARG;
    httpa_limits def = httpa_limits_default();
    if (lim == NULL)
        lim = &def;
    httpa_fields_init(f, lim);
    if (m == NULL)
        return HTTPA_ERR_INVALID_ARG;
    /* Bounds the sort and the per-message work below. */
    if (m->nheaders > lim->max_field_lines)
        return HTTPA_ERR_TOO_LARGE;
    line_ref stack[LINES_ON_STACK], *lines = NULL;
    size_t n = 0;
    httpa_err e = collect_lines(m, stack, &lines, &n);
    if (e == HTTPA_OK)
        e = parse_lines(lines, n, lim, f);
    if (lines != stack)
        free(lines);
    /* No half-parsed state is left behind: either all fields or none. */
    if (e != HTTPA_OK)
        httpa_fields_free(f);
    return e;
}

void httpa_fields_free(httpa_fields *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < HTTPA_F__COUNT; i++) {
        if (f->v[i] != NULL)
            httpa_sf_free(f->v[i]);
        httpa_buf_free(&f->canon[i]);
    }
    for (size_t i = 0; i < f->nunknown; i++) {
        free(f->unknown[i].name);
        httpa_buf_free(&f->unknown[i].value);
    }
    free(f->unknown);
    memset(f, 0, sizeof(*f));
}

const httpa_sf_bare *httpa_fields_item(const httpa_fields *f, httpa_fid id)
{
    if (f == NULL || (unsigned)id >= HTTPA_F__COUNT || f->v[id] == NULL)
        return NULL;
    if (f->v[id]->kind != HTTPA_SF_ITEM)
        return NULL;
    return &f->v[id]->item.bare;
}

/* ---- own fields ------------------------------------------------------- */

#ifndef NDEBUG
/* Debug builds: an own value must be what parse and serialize make of it. */
static bool own_is_canonical(httpa_fid id, httpa_span value)
{
    httpa_fields g;
    memset(&g, 0, sizeof(g));
    httpa_buf_init(&g.canon[id], SIZE_MAX);
    httpa_limits lim = httpa_limits_default();
    bool ok = parse_known(id, value, &lim, &g) == HTTPA_OK && g.canon[id].len == value.len &&
              memcmp(g.canon[id].base, value.base, value.len) == 0;
    httpa_sf_free(g.v[id]);
    httpa_buf_free(&g.canon[id]);
    return ok;
}
#endif

httpa_err httpa_fields_put_own(httpa_fields *f, httpa_fid id, const char *value, size_t len)
{
    if (f == NULL || (unsigned)id >= HTTPA_F__COUNT || value == NULL || len == 0 ||
        httpa_fields_has(f, id))
        return HTTPA_ERR_INVALID_ARG;
    assert(own_is_canonical(id, HTTPA_SPAN(value, len)));
    httpa_err e = httpa_buf_append(&f->canon[id], value, len);
    if (e == HTTPA_OK)
        f->present |= UINT32_C(1) << id;
    return e;
}

/* ---- Attest-Base-ID -------------------------------------------------- */

static bool is_lower_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool httpa_base_id_valid(const uint8_t *s, size_t len)
{
    /* 8-4-4-4-12, version digit at 14, variant digit at 19 (RFC 9562). */
    if (s == NULL || len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
            return false;
    }
    return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}
