/* HTTP messages as the engine sees them (include/httpa/msg.h).
 *
 * Every string is an owned, NUL-terminated copy. Values are wiped before
 * they are freed because restored sealed fields carry credentials. Growth is
 * bounded here as a backstop; the configured limits (httpa_limits) are
 * enforced by the I/O adapters and the field parser, which know them. */
#include <stdlib.h>
#include <string.h>

#include "httpa/msg.h"

/* Hard ceilings, far above any configured limit: they only stop runaway
 * growth from a caller that forgot to apply its own. */
enum {
    MSG_MAX_LINES = 65536,
    MSG_MAX_NAME = 65535,            /* an AHL name length is a u16 */
    MSG_MAX_VALUE = 16 * 1024 * 1024,
    MSG_MAX_LINE_ITEM = 1024 * 1024, /* method or request-target */
    MSG_FIRST_CAP = 8,
};

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n != 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Wipe then free a string that may hold a secret; NULL is fine. */
static void free_wiped(char *s, size_t n)
{
    if (s == NULL)
        return;
    httpa_wipe(s, n);
    free(s);
}

/* Name and value share one allocation (see httpa_msg_add). */
static void header_free(httpa_header *h)
{
    if (h->name != NULL)
        free_wiped(h->name, h->name_len + 1 + h->value_len + 1);
    memset(h, 0, sizeof(*h));
}

void httpa_msg_init_request(httpa_msg *m)
{
    memset(m, 0, sizeof(*m));
}

void httpa_msg_init_response(httpa_msg *m, int status)
{
    memset(m, 0, sizeof(*m));
    m->is_response = true;
    m->status = status;
}

void httpa_msg_free(httpa_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nheaders; i++)
        header_free(&m->headers[i]);
    free(m->headers);
    free_wiped(m->method, m->method_len);
    /* A restored sealed target is confidential too. */
    free_wiped(m->target, m->target_len);
    memset(m, 0, sizeof(*m));
}

httpa_err httpa_msg_set_request_line(httpa_msg *m, const char *method, size_t method_len,
                                     const char *target, size_t target_len)
{
    if (m == NULL || method == NULL || target == NULL || method_len == 0 || target_len == 0)
        return HTTPA_ERR_INVALID_ARG;
    if (method_len > MSG_MAX_LINE_ITEM || target_len > MSG_MAX_LINE_ITEM)
        return HTTPA_ERR_TOO_LARGE;
    char *mc = dup_bytes(method, method_len);
    char *tc = dup_bytes(target, target_len);
    if (mc == NULL || tc == NULL) {
        free(mc);
        free(tc);
        return HTTPA_ERR_NOMEM;
    }
    free_wiped(m->method, m->method_len);
    free_wiped(m->target, m->target_len);
    m->method = mc;
    m->method_len = method_len;
    m->target = tc;
    m->target_len = target_len;
    return HTTPA_OK;
}

/* Make room for one more line, doubling up to MSG_MAX_LINES. */
static httpa_err grow(httpa_msg *m)
{
    if (m->nheaders < m->cap)
        return HTTPA_OK;
    if (m->cap >= MSG_MAX_LINES)
        return HTTPA_ERR_TOO_LARGE;
    size_t cap = m->cap ? m->cap * 2 : MSG_FIRST_CAP;
    if (cap > MSG_MAX_LINES)
        cap = MSG_MAX_LINES;
    /* The array holds only pointers and lengths, so realloc leaks nothing. */
    httpa_header *h = realloc(m->headers, cap * sizeof(*h));
    if (h == NULL)
        return HTTPA_ERR_NOMEM;
    m->headers = h;
    m->cap = cap;
    return HTTPA_OK;
}

httpa_err httpa_msg_add(httpa_msg *m, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
    if (m == NULL || name == NULL || name_len == 0 || (value == NULL && value_len != 0))
        return HTTPA_ERR_INVALID_ARG;
    if (name_len > MSG_MAX_NAME || value_len > MSG_MAX_VALUE)
        return HTTPA_ERR_TOO_LARGE;
    httpa_err e = grow(m);
    if (e != HTTPA_OK)
        return e;
    /* One allocation, "name\0value\0": half the malloc and free calls of a
     * message, which adds and drops many short lines per transaction. */
    char *n = malloc(name_len + 1 + value_len + 1);
    if (n == NULL)
        return HTTPA_ERR_NOMEM;
    char *v = n + name_len + 1;
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    if (value_len != 0)
        memcpy(v, value, value_len);
    v[value_len] = '\0';
    m->headers[m->nheaders++] = (httpa_header){n, name_len, v, value_len, false};
    return HTTPA_OK;
}

httpa_err httpa_msg_add_str(httpa_msg *m, const char *name, const char *value)
{
    if (name == NULL || value == NULL)
        return HTTPA_ERR_INVALID_ARG;
    return httpa_msg_add(m, name, strlen(name), value, strlen(value));
}

size_t httpa_msg_remove(httpa_msg *m, const char *name, size_t name_len)
{
    if (m == NULL || name == NULL)
        return 0;
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        httpa_header *h = &m->headers[i];
        if (httpa_name_eq(h->name, h->name_len, name, name_len)) {
            header_free(h);
            removed++;
        } else {
            /* Compact in place so the remaining lines keep their order. */
            m->headers[kept++] = *h;
        }
    }
    m->nheaders = kept;
    return removed;
}

const httpa_header *httpa_msg_find(const httpa_msg *m, const char *name, size_t name_len)
{
    if (m == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        if (httpa_name_eq(h->name, h->name_len, name, name_len))
            return h;
    }
    return NULL;
}

size_t httpa_msg_count(const httpa_msg *m, const char *name, size_t name_len)
{
    size_t n = 0;
    if (m == NULL || name == NULL)
        return 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        if (httpa_name_eq(h->name, h->name_len, name, name_len))
            n++;
    }
    return n;
}

httpa_err httpa_msg_combine(const httpa_msg *m, const char *name, size_t name_len,
                            httpa_buf *out, bool *found)
{
    if (m == NULL || name == NULL || out == NULL || found == NULL)
        return HTTPA_ERR_INVALID_ARG;
    *found = false;
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        if (!httpa_name_eq(h->name, h->name_len, name, name_len))
            continue;
        httpa_err e = HTTPA_OK;
        if (*found)
            e = httpa_buf_append(out, ", ", 2);
        if (e == HTTPA_OK)
            e = httpa_buf_append(out, h->value, h->value_len);
        if (e != HTTPA_OK)
            return e;
        *found = true;
    }
    return HTTPA_OK;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool httpa_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool httpa_msg_method_is(const httpa_msg *m, const char *method)
{
    size_t n = strlen(method);
    return m->method != NULL && m->method_len == n && memcmp(m->method, method, n) == 0;
}
