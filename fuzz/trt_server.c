/* Target: httpa_server_open, httpa_server_txn_body */
/* Input: a request line "METHOD target", then "name: value" lines (LF or
 * CRLF), an empty line, and the body octets. The server holds one fixed
 * Attest Base with the keys of vector aths_attested_key, so the seeds made
 * from the atsp, trt_1 and trt_2 requests pass the ticket and reach the
 * Cargo, the restore and the records; mutated bodies and non-Attest fields
 * stay authenticated. An opened request is answered (with the body error
 * when the body fails) and everything is freed: nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000
#define MAX_LINES 300

static const char base_id[] = "6f1c9e0a-3b2d-4c5e-8f70-112233445566";

/* c_ap and s_ap of vector aths_attested_key (TLS_AES_128_GCM_SHA256). */
static const uint8_t c_key[16] = {0x7a, 0x4d, 0x4e, 0xdb, 0x51, 0x0b, 0xff, 0xbc,
                                  0xc3, 0x30, 0x86, 0x73, 0x6d, 0x47, 0x14, 0x51};
static const uint8_t c_iv[12] = {0x00, 0xf8, 0x83, 0xa0, 0xed, 0x6f,
                                 0xf7, 0x4d, 0x3f, 0xd1, 0xa5, 0xa4};
static const uint8_t c_mac[32] = {0xfb, 0x20, 0x70, 0x80, 0x23, 0x49, 0x70, 0x68,
                                  0x86, 0x5c, 0x0a, 0x41, 0xce, 0x8c, 0xca, 0xff,
                                  0x9a, 0xbe, 0x55, 0xf3, 0xb7, 0x0a, 0x1b, 0x24,
                                  0x9b, 0xd6, 0xd3, 0xbc, 0x19, 0xa9, 0xa4, 0xe5};
static const uint8_t s_key[16] = {0xba, 0x5e, 0x83, 0x24, 0x81, 0x94, 0xa5, 0x70,
                                  0xfb, 0x46, 0x5e, 0xbe, 0xcf, 0x73, 0x1c, 0x51};
static const uint8_t s_iv[12] = {0xa2, 0x64, 0x40, 0xcc, 0x57, 0xb1,
                                 0xd7, 0xd2, 0x4e, 0x7f, 0x84, 0x4d};
static const uint8_t s_mac[32] = {0x75, 0xe4, 0x5d, 0x9f, 0x79, 0xfd, 0x6e, 0x18,
                                  0x5c, 0x4a, 0x89, 0x5d, 0x0e, 0x40, 0xef, 0x88,
                                  0xc4, 0x1a, 0xf6, 0x33, 0x56, 0x9e, 0x23, 0x37,
                                  0x71, 0x23, 0xf7, 0x4a, 0x6f, 0xdf, 0x6f, 0x6e};

static void keys(httpa_traffic *t, const httpa_suite *s, const uint8_t *k, const uint8_t *iv,
                 const uint8_t *mac)
{
    memset(t, 0, sizeof(*t));
    t->suite = s;
    memcpy(t->key, k, 16);
    memcpy(t->iv, iv, 12);
    memcpy(t->mac_key, mac, 32);
}

static httpa_server *make_server(void)
{
    httpa_server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.limits.max_body = 1 << 20;
    httpa_server *s = NULL;
    httpa_base *b = NULL;
    if (httpa_server_new(&cfg, &s) != HTTPA_OK)
        return NULL;
    if (httpa_base_new(&b) != HTTPA_OK) {
        httpa_server_free(s);
        return NULL;
    }
    const httpa_suite *suite = httpa_suite_find("TLS_AES_128_GCM_SHA256", 22);
    memcpy(b->id, base_id, sizeof(base_id));
    b->suite = suite;
    keys(&b->c_ap, suite, c_key, c_iv, c_mac);
    keys(&b->s_ap, suite, s_key, s_iv, s_mac);
    b->expires_at = NOW + 3600;
    httpa_err e = httpa_store_insert(s->store, b, NOW);
    httpa_store_put(s->store, b);
    if (e != HTTPA_OK) {
        httpa_server_free(s);
        return NULL;
    }
    return s;
}

/* One line of the input without its LF (and CR); advances *pos. */
static size_t next_line(const uint8_t *d, size_t n, size_t *pos, const char **line)
{
    size_t start = *pos, end = start;
    while (end < n && d[end] != '\n')
        end++;
    *pos = end < n ? end + 1 : end;
    *line = (const char *)d + start;
    size_t len = end - start;
    return len > 0 && d[start + len - 1] == '\r' ? len - 1 : len;
}

static bool parse_request(const uint8_t *d, size_t n, size_t *pos, httpa_msg *m)
{
    const char *l;
    size_t len = next_line(d, n, pos, &l);
    const char *sp = memchr(l, ' ', len);
    if (sp == NULL || sp == l || sp + 1 == l + len)
        return false;
    if (httpa_msg_set_request_line(m, l, (size_t)(sp - l), sp + 1,
                                   len - (size_t)(sp + 1 - l)) != HTTPA_OK)
        return false;
    for (int i = 0; i < MAX_LINES && *pos < n; i++) {
        len = next_line(d, n, pos, &l);
        if (len == 0)
            break;
        const char *colon = memchr(l, ':', len);
        if (colon == NULL || colon == l)
            continue;
        const char *v = colon + 1, *end = l + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (httpa_msg_add(m, l, (size_t)(colon - l), v, (size_t)(end - v)) != HTTPA_OK)
            return false;
    }
    return true;
}

/* Feed the body in uneven chunks; answer the request either way. */
static void serve(httpa_server_txn *t, httpa_span body, httpa_msg *resp, httpa_buf *out)
{
    httpa_buf plain;
    httpa_buf_init(&plain, SIZE_MAX);
    httpa_err e = HTTPA_OK;
    size_t off = 0, step = 1 + body.len % 1500;
    do {
        size_t k = body.len - off < step ? body.len - off : step;
        e = httpa_server_txn_body(t, HTTPA_SPAN(body.base + off, k), off + k == body.len,
                                  &plain);
        off += k;
        step = step * 3 % 4099 + 1;
    } while (e == HTTPA_OK && off < body.len);
    if (e != HTTPA_OK) {
        httpa_err r = httpa_server_txn_error(t, e, "request body failed", resp, out);
        (void)r;
    } else {
        httpa_seal_opts o = {.has_body = true, .content_length = plain.len};
        httpa_msg_free(resp);
        httpa_msg_init_response(resp, 200);
        if (httpa_server_txn_respond(t, resp, &o) == HTTPA_OK) {
            httpa_err r = httpa_server_txn_seal(t, httpa_buf_span(&plain), true, out);
            (void)r;
        }
    }
    httpa_buf_free(&plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    httpa_server *s = make_server();
    if (s == NULL)
        return 0;
    httpa_msg req, resp;
    httpa_buf out;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&out, SIZE_MAX);
    size_t pos = 0;
    if (parse_request(data, size, &pos, &req)) {
        httpa_server_txn *t = NULL;
        if (httpa_server_open(s, &req, NOW, &t, &resp, &out) == HTTPA_OK && t != NULL)
            serve(t, HTTPA_SPAN(data + pos, size - pos), &resp, &out);
        httpa_server_txn_free(t);
    }
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&out);
    httpa_server_free(s);
    return 0;
}
