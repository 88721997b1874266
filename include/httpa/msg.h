/* An HTTP message as the engine sees it: start line and an ordered field list.
 * The engine never touches sockets; I/O adapters copy fields in and out. */
#ifndef HTTPA_MSG_H
#define HTTPA_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "httpa/buf.h"
#include "httpa/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One field line. Name and value are owned, NUL-terminated copies. `sealed`
 * is set by the engine on fields restored from an Attest-Cargo: only those
 * are confidential and authenticated (profile 9.4). */
typedef struct httpa_header {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
    bool sealed;
} httpa_header;

typedef struct httpa_msg {
    bool is_response;
    char *method;  /* requests */
    size_t method_len;
    char *target;  /* requests: request-target exactly as sent */
    size_t target_len;
    int status;    /* responses */
    httpa_header *headers;
    size_t nheaders;
    size_t cap;
} httpa_msg;

void httpa_msg_init_request(httpa_msg *m);
void httpa_msg_init_response(httpa_msg *m, int status);

/* Wipes every value (fields may hold sealed secrets) and frees. */
void httpa_msg_free(httpa_msg *m);

httpa_err httpa_msg_set_request_line(httpa_msg *m, const char *method, size_t method_len,
                                     const char *target, size_t target_len) HTTPA_MUST_USE;

/* Append a field line (copied). */
httpa_err httpa_msg_add(httpa_msg *m, const char *name, size_t name_len, const char *value,
                        size_t value_len) HTTPA_MUST_USE;
httpa_err httpa_msg_add_str(httpa_msg *m, const char *name, const char *value) HTTPA_MUST_USE;

/* Remove every line whose name matches case-insensitively; returns the count. */
size_t httpa_msg_remove(httpa_msg *m, const char *name, size_t name_len);

/* Whether the request's method is exactly `method` (methods are
 * case-sensitive). */
bool httpa_msg_method_is(const httpa_msg *m, const char *method);

/* The first line with this name (case-insensitive), or NULL. */
const httpa_header *httpa_msg_find(const httpa_msg *m, const char *name, size_t name_len);

/* Count of lines with this name. */
size_t httpa_msg_count(const httpa_msg *m, const char *name, size_t name_len);

/* All lines with this name joined with ", " (RFC 9110 5.3) into `out`
 * (appended). Returns HTTPA_OK with *found = false when absent. */
httpa_err httpa_msg_combine(const httpa_msg *m, const char *name, size_t name_len,
                            httpa_buf *out, bool *found) HTTPA_MUST_USE;

/* ASCII case-insensitive equality of two names. */
bool httpa_name_eq(const char *a, size_t alen, const char *b, size_t blen);

#ifdef __cplusplus
}
#endif
#endif
