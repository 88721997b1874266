/* The Attest-* fields of one message, parsed with the structure and member
 * types of profile table 4.2, and the AHL (profile section 5) built from them. */
#ifndef HTTPA_ENGINE_FIELDS_H
#define HTTPA_ENGINE_FIELDS_H

#include <stdbool.h>

#include "httpa/limits.h"
#include "httpa/msg.h"
#include "httpa/sf.h"

/* Known fields, in ascending order of their lower-case names. */
typedef enum httpa_fid {
    HTTPA_F_BASE_CREATION,          /* attest-base-creation */
    HTTPA_F_BASE_ID,                /* attest-base-id */
    HTTPA_F_BASE_TERMINATION,       /* attest-base-termination */
    HTTPA_F_BINDER,                 /* attest-binder */
    HTTPA_F_BLOCKLIST,              /* attest-blocklist */
    HTTPA_F_CARGO,                  /* attest-cargo */
    HTTPA_F_CIPHER_SUITE,           /* attest-cipher-suite */
    HTTPA_F_CIPHER_SUITES,          /* attest-cipher-suites */
    HTTPA_F_DATE,                   /* attest-date */
    HTTPA_F_ERROR,                  /* attest-error */
    HTTPA_F_EXPIRES,                /* attest-expires */
    HTTPA_F_KEY_SHARE,              /* attest-key-share */
    HTTPA_F_KEY_SHARES,             /* attest-key-shares */
    HTTPA_F_POLICIES,               /* attest-policies */
    HTTPA_F_QUOTES,                 /* attest-quotes */
    HTTPA_F_RANDOM,                 /* attest-random */
    HTTPA_F_SECRETS,                /* attest-secrets */
    HTTPA_F_SIGNATURE,              /* attest-signature */
    HTTPA_F_SIGNATURES,             /* attest-signatures */
    HTTPA_F_SUPPORTED_CIPHER_SUITES,/* attest-supported-cipher-suites */
    HTTPA_F_SUPPORTED_GROUP,        /* attest-supported-group */
    HTTPA_F_SUPPORTED_GROUPS,       /* attest-supported-groups */
    HTTPA_F_SUPPORTED_VERSIONS,     /* attest-supported-versions */
    HTTPA_F_TICKET,                 /* attest-ticket */
    HTTPA_F_TRANSPORT,              /* attest-transport */
    HTTPA_F_VERSION,                /* attest-version */
    HTTPA_F_VERSIONS,               /* attest-versions */
    HTTPA_F__COUNT
} httpa_fid;

/* Lower-case name of a known field. */
const char *httpa_fid_name(httpa_fid f);

/* Which fields an AHL leaves out (profile 4.2). */
typedef enum httpa_ahl_set {
    HTTPA_X_FULL, /* attest-ticket, attest-binder */
    HTTPA_X_CORE, /* also attest-quotes, -signature, -secrets, -cargo */
} httpa_ahl_set;

/* An unknown Attest-* field: lower-case name, trimmed lines joined with ", ". */
typedef struct httpa_unknown_field {
    char *name;
    httpa_buf value;
} httpa_unknown_field;

typedef struct httpa_fields {
    uint32_t present;                   /* bit i: field i is present */
    httpa_sf_value *v[HTTPA_F__COUNT];  /* parsed value; NULL when absent or own */
    httpa_buf canon[HTTPA_F__COUNT];    /* canonical serialization of each present field */
    httpa_unknown_field *unknown;       /* sorted by name */
    size_t nunknown;
} httpa_fields;

/* Parse every Attest-* field of `m` (lines combined first; trailers are never
 * passed in). Known fields must have their table 4.2 structure and member
 * types, non-empty Lists and Dictionaries, canonical base64; violations give
 * HTTPA_ERR_BAD_REQUEST, oversize HTTPA_ERR_TOO_LARGE. `f` is always safe to
 * pass to httpa_fields_free afterwards (it is overwritten, and left empty on
 * failure). `lim` NULL means httpa_limits_default(). */
httpa_err httpa_fields_parse(const httpa_msg *m, const httpa_limits *lim,
                             httpa_fields *f) HTTPA_MUST_USE;
void httpa_fields_free(httpa_fields *f);

/* An empty set, for a message without Attest-* fields or to collect own ones. */
void httpa_fields_init(httpa_fields *f, const httpa_limits *lim);

/* Record a field this engine serialized itself (with the httpa_sf_put_*
 * functions) and added to the message: such a value is canonical by
 * construction, so it enters the AHL as is, without a parse and a second
 * serialization (v[id] stays NULL). Debug builds check the claim by parsing.
 * HTTPA_ERR_INVALID_ARG if the field is present already. Never for lines
 * that came from elsewhere, the application's included. */
httpa_err httpa_fields_put_own(httpa_fields *f, httpa_fid id, const char *value,
                               size_t len) HTTPA_MUST_USE;

static inline bool httpa_fields_has(const httpa_fields *f, httpa_fid id)
{
    return (f->present >> id) & 1u;
}

/* Item fields: the bare value when present and of that type, else NULL. */
const httpa_sf_bare *httpa_fields_item(const httpa_fields *f, httpa_fid id);

/* AHL(msg, X) appended to `out`: kind, pseudo-components (method and
 * origin-form target, or status) and the sorted entries. */
httpa_err httpa_ahl_build(const httpa_msg *m, const httpa_fields *f, httpa_ahl_set set,
                          httpa_buf *out) HTTPA_MUST_USE;

/* The origin-form of a request-target: an absolute-form target is reduced to
 * path and query ("/" when the path is empty); others are returned as is.
 * An absolute-form target with an empty path and a query ("http://h?q") has
 * the origin-form "/?q", which is no substring of the target: then the span
 * is empty (base NULL) and httpa_origin_form_append gives the octets. */
httpa_span httpa_origin_form(const char *target, size_t len);

/* The origin-form of a request-target appended to `out`, exact in all cases. */
httpa_err httpa_origin_form_append(const char *target, size_t len,
                                   httpa_buf *out) HTTPA_MUST_USE;

/* True for a valid Attest-Base-ID: 36 chars, lower-case UUIDv4 (profile 4.3). */
bool httpa_base_id_valid(const uint8_t *s, size_t len);

#endif
