/* Attest Header Lines (profile section 5): the octets that transcripts,
 * AEAD associated data, tickets and binders cover.
 *
 *   AHL(msg, X) = kind || 0x00 || entry*
 *   entry       = u16(len(name)) || name || u32(len(value)) || value
 */
#include <stdint.h>
#include <string.h>

#include "engine/fields.h"

/* Exclusion sets X_full and X_core of profile 4.2. */
static bool excluded(httpa_fid id, httpa_ahl_set set)
{
    switch (id) {
    case HTTPA_F_TICKET:
    case HTTPA_F_BINDER:
        return true;
    case HTTPA_F_QUOTES:
    case HTTPA_F_SIGNATURE:
    case HTTPA_F_SECRETS:
    case HTTPA_F_CARGO:
        return set == HTTPA_X_CORE;
    default:
        return false;
    }
}

static httpa_err put_head(httpa_buf *out, const char *name, size_t nlen, size_t vlen)
{
    if (nlen > UINT16_MAX || vlen > UINT32_MAX)
        return HTTPA_ERR_TOO_LARGE;
    httpa_err e = httpa_buf_append_u16(out, (uint16_t)nlen);
    if (e == HTTPA_OK)
        e = httpa_buf_append(out, name, nlen);
    if (e == HTTPA_OK)
        e = httpa_buf_append_u32(out, (uint32_t)vlen);
    return e;
}

static httpa_err put_entry(httpa_buf *out, const char *name, const void *v, size_t vlen)
{
    httpa_err e = put_head(out, name, strlen(name), vlen);
    if (e == HTTPA_OK && vlen != 0)
        e = httpa_buf_append(out, v, vlen);
    return e;
}

/* ---- request-target -------------------------------------------------- */

/* The origin-form as "/" (when `slash`) followed by `rest`: an absolute-form
 * target with an empty path but a query ("http://h?q" -> "/?q") is not a
 * substring of the target, so it takes two pieces. */
typedef struct origin_parts {
    bool slash;
    httpa_span rest;
} origin_parts;

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_scheme_char(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* Length of `scheme "://"` at the start of t, or 0 if t is not absolute-form.
 * Only hierarchical URIs with an authority are HTTP absolute-form targets;
 * authority-form ("host:port") and asterisk-form ("*") stay as they are. */
static size_t absolute_prefix(const char *t, size_t len)
{
    if (len == 0 || !is_alpha(t[0]))
        return 0;
    size_t i = 1;
    while (i < len && is_scheme_char(t[i]))
        i++;
    if (len - i < 3 || memcmp(t + i, "://", 3) != 0)
        return 0;
    return i + 3;
}

static origin_parts split_origin(const char *t, size_t len)
{
    size_t p = absolute_prefix(t, len);
    if (p == 0)
        return (origin_parts){false, HTTPA_SPAN(t, len)};
    while (p < len && t[p] != '/' && t[p] != '?' && t[p] != '#')
        p++; /* skip the authority */
    size_t end = p;
    while (end < len && t[end] != '#')
        end++; /* path and query only: no fragment */
    bool empty_path = p == end || t[p] != '/';
    return (origin_parts){empty_path, HTTPA_SPAN(t + p, end - p)};
}

httpa_span httpa_origin_form(const char *target, size_t len)
{
    if (target == NULL)
        return HTTPA_SPAN(NULL, 0);
    origin_parts o = split_origin(target, len);
    if (!o.slash)
        return o.rest;
    if (o.rest.len == 0)
        return HTTPA_SPAN_STR("/");
    return HTTPA_SPAN(NULL, 0); /* "/?query": see httpa_origin_form_append */
}

httpa_err httpa_origin_form_append(const char *target, size_t len, httpa_buf *out)
{
    if (target == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    origin_parts o = split_origin(target, len);
    httpa_err e = HTTPA_OK;
    if (o.slash)
        e = httpa_buf_append_u8(out, '/');
    if (e == HTTPA_OK && o.rest.len != 0)
        e = httpa_buf_append(out, o.rest.base, o.rest.len);
    return e;
}

/* ---- pseudo-components ----------------------------------------------- */

static httpa_err put_request_line(const httpa_msg *m, httpa_buf *out)
{
    if (m->method == NULL || m->method_len == 0 || m->target == NULL || m->target_len == 0)
        return HTTPA_ERR_INVALID_ARG;
    /* Method exactly as sent: case-sensitive, never folded. */
    httpa_err e = put_entry(out, "@method", m->method, m->method_len);
    if (e != HTTPA_OK)
        return e;
    origin_parts o = split_origin(m->target, m->target_len);
    e = put_head(out, "@request-target", strlen("@request-target"),
                 o.rest.len + (o.slash ? 1u : 0u));
    if (e == HTTPA_OK)
        e = httpa_origin_form_append(m->target, m->target_len, out);
    return e;
}

static httpa_err put_status(const httpa_msg *m, httpa_buf *out)
{
    if (m->status < 100 || m->status > 999)
        return HTTPA_ERR_INVALID_ARG;
    char d[3] = {(char)('0' + m->status / 100), (char)('0' + m->status / 10 % 10),
                 (char)('0' + m->status % 10)};
    return put_entry(out, "@status", d, sizeof(d));
}

/* ---- fields ---------------------------------------------------------- */

static httpa_err put_unknown(const httpa_unknown_field *u, httpa_buf *out)
{
    return put_entry(out, u->name, u->value.base, u->value.len);
}

/* Known fields come in name order (httpa_fid order) and unknown ones are
 * sorted by name: merge the two into one ascending sequence. */
static httpa_err put_fields(const httpa_fields *f, httpa_ahl_set set, httpa_buf *out)
{
    size_t u = 0;
    httpa_err e = HTTPA_OK;
    for (int id = 0; id < HTTPA_F__COUNT && e == HTTPA_OK; id++) {
        if (!httpa_fields_has(f, (httpa_fid)id) || excluded((httpa_fid)id, set))
            continue;
        const char *name = httpa_fid_name((httpa_fid)id);
        while (e == HTTPA_OK && u < f->nunknown && strcmp(f->unknown[u].name, name) < 0)
            e = put_unknown(&f->unknown[u++], out);
        if (e == HTTPA_OK)
            e = put_entry(out, name, f->canon[id].base, f->canon[id].len);
    }
    while (e == HTTPA_OK && u < f->nunknown)
        e = put_unknown(&f->unknown[u++], out);
    return e;
}

httpa_err httpa_ahl_build(const httpa_msg *m, const httpa_fields *f, httpa_ahl_set set,
                          httpa_buf *out)
{
    if (m == NULL || f == NULL || out == NULL || (set != HTTPA_X_FULL && set != HTTPA_X_CORE))
        return HTTPA_ERR_INVALID_ARG;
    size_t start = out->len;
    static const char req[] = "httpa2 request", resp[] = "httpa2 response";
    /* The kind includes its 0x00 terminator: sizeof counts the NUL. */
    httpa_err e = m->is_response ? httpa_buf_append(out, resp, sizeof(resp))
                                 : httpa_buf_append(out, req, sizeof(req));
    if (e == HTTPA_OK)
        e = m->is_response ? put_status(m, out) : put_request_line(m, out);
    if (e == HTTPA_OK)
        e = put_fields(f, set, out);
    if (e != HTTPA_OK)
        out->len = start; /* nothing half-written is left appended */
    return e;
}
