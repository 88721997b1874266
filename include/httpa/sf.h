/* Structured Field Values for HTTP (RFC 8941, RFC 9651): parse and serialize.
 *
 * A parsed value owns all of its memory (one allocation arena) and is
 * released with httpa_sf_free(). Parsing is bounded by httpa_sf_limits. */
#ifndef HTTPA_SF_H
#define HTTPA_SF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpa/buf.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum httpa_sf_kind {
    HTTPA_SF_ITEM,
    HTTPA_SF_LIST,
    HTTPA_SF_DICT,
} httpa_sf_kind;

typedef enum httpa_sf_type {
    HTTPA_SF_INTEGER,
    HTTPA_SF_DECIMAL,
    HTTPA_SF_STRING,
    HTTPA_SF_TOKEN,
    HTTPA_SF_BINARY,
    HTTPA_SF_BOOLEAN,
    HTTPA_SF_DATE,
    HTTPA_SF_DISPLAY_STRING,
} httpa_sf_type;

/* A bare item. STRING, TOKEN, BINARY and DISPLAY_STRING use `bytes`
 * (decoded: unescaped string, decoded base64, UTF-8 of a display string;
 * NUL-terminated for convenience, `len` excludes the NUL). DECIMAL is kept
 * exactly as thousandths in `integer` (RFC 9651 allows three fraction digits). */
typedef struct httpa_sf_bare {
    httpa_sf_type type;
    int64_t integer;   /* INTEGER, DATE, DECIMAL (x1000) */
    bool boolean;      /* BOOLEAN */
    const uint8_t *bytes;
    size_t len;
} httpa_sf_bare;

typedef struct httpa_sf_param {
    const char *key; /* NUL-terminated sf-key */
    httpa_sf_bare value;
} httpa_sf_param;

/* An item with its parameters. */
typedef struct httpa_sf_item {
    httpa_sf_bare bare;
    const httpa_sf_param *params;
    size_t nparams;
} httpa_sf_item;

/* A member of a List or Dictionary: an item, or an inner list with parameters. */
typedef struct httpa_sf_member {
    const char *key;          /* Dictionary member name; NULL in a List */
    bool is_inner;
    httpa_sf_item item;       /* when !is_inner */
    const httpa_sf_item *inner; /* when is_inner */
    size_t ninner;
    const httpa_sf_param *params; /* parameters of the inner list */
    size_t nparams;
} httpa_sf_member;

typedef struct httpa_sf_value {
    httpa_sf_kind kind;
    httpa_sf_item item;              /* kind == ITEM */
    const httpa_sf_member *members;  /* kind == LIST or DICT */
    size_t nmembers;
    /* A Dictionary key or parameter key occurred more than once; the parse
     * kept RFC 9651 semantics (last value wins, first position kept). */
    bool duplicate_keys;
} httpa_sf_value;

/* Bounds on what a parse may build; zero fields take the defaults noted. */
typedef struct httpa_sf_limits {
    size_t max_input;    /* octets of input; default 65536 */
    size_t max_members;  /* list/dict members; default 1024 */
    size_t max_inner;    /* items per inner list; default 256 */
    size_t max_params;   /* parameters per item or inner list; default 256 */
} httpa_sf_limits;

/* Parse `len` octets as a field of the given kind (the combined field value,
 * lines already joined with ", "). Leading and trailing SP are discarded as
 * RFC 9651 says. HTTPA_ERR_BAD_REQUEST on any syntax error,
 * HTTPA_ERR_TOO_LARGE past a limit, HTTPA_ERR_NOMEM. `lim` may be NULL. */
httpa_err httpa_sf_parse(httpa_sf_kind kind, const char *in, size_t len,
                         const httpa_sf_limits *lim, httpa_sf_value **out) HTTPA_MUST_USE;

void httpa_sf_free(httpa_sf_value *v);

/* Append the canonical serialization (RFC 9651 section 4.1) of `v` to `out`.
 * HTTPA_ERR_BAD_REQUEST if a value cannot be serialized (integer out of
 * range, invalid token or key, ...). */
httpa_err httpa_sf_serialize(const httpa_sf_value *v, httpa_buf *out) HTTPA_MUST_USE;

/* Serializers for single pieces, appended to `out`, for building fields. */
httpa_err httpa_sf_put_bare(httpa_buf *out, const httpa_sf_bare *b) HTTPA_MUST_USE;
httpa_err httpa_sf_put_integer(httpa_buf *out, int64_t v) HTTPA_MUST_USE;
httpa_err httpa_sf_put_token(httpa_buf *out, const char *tok, size_t len) HTTPA_MUST_USE;
httpa_err httpa_sf_put_string(httpa_buf *out, const char *s, size_t len) HTTPA_MUST_USE;
httpa_err httpa_sf_put_binary(httpa_buf *out, const uint8_t *p, size_t len) HTTPA_MUST_USE;
httpa_err httpa_sf_put_boolean(httpa_buf *out, bool v) HTTPA_MUST_USE;
/* An sf-key (for dictionary members and parameters). */
httpa_err httpa_sf_put_key(httpa_buf *out, const char *key, size_t len) HTTPA_MUST_USE;

/* Whether `b` is a Token, String, Byte Sequence or Display String whose
 * octets are exactly those of `s`; false for NULL. */
bool httpa_sf_bare_is(const httpa_sf_bare *b, const char *s);

/* Find a parameter or dictionary member by key; NULL when absent. */
const httpa_sf_param *httpa_sf_param_find(const httpa_sf_param *params, size_t n,
                                          const char *key);
const httpa_sf_member *httpa_sf_dict_find(const httpa_sf_value *v, const char *key);

#ifdef __cplusplus
}
#endif
#endif
