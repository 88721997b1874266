/* Base64 (RFC 4648 sections 4 and 5) over EVP_EncodeBlock/EVP_DecodeBlock.
 * Decoding is strict: only the canonical encoding of a value is accepted
 * (RFC 4648 section 3.5), so every value has exactly one spelling. */
#include <string.h>

#include <openssl/evp.h>

#include "ossl.h"

/* Work in chunks of 256 quads: EVP takes int lengths and writes a NUL. */
#define BIN_CHUNK (256 * 3)
#define TXT_CHUNK (256 * 4)

static int in_alphabet(char c, int url)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return url ? c == '-' || c == '_' : c == '+' || c == '/';
}

/* Swap the last two alphabet characters between the standard and URL forms. */
static void translate(unsigned char *p, size_t n, int to_url)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (to_url ? '+' : '-'))
            p[i] = to_url ? '-' : '+';
        else if (p[i] == (to_url ? '/' : '_'))
            p[i] = to_url ? '_' : '/';
    }
}

/* Drop what was appended to out since `start`, wiping it. */
static httpa_err rollback(httpa_buf *out, size_t start, httpa_err err)
{
    if (out->len > start)
        httpa_wipe(out->base + start, out->len - start);
    out->len = start;
    return err;
}

static httpa_err encode(httpa_span in, int url, httpa_buf *out)
{
    if (out == NULL || (in.len > 0 && in.base == NULL))
        return HTTPA_ERR_INVALID_ARG;
    unsigned char txt[TXT_CHUNK + 1];
    size_t start = out->len;
    httpa_err err = HTTPA_OK;
    for (size_t off = 0; err == HTTPA_OK && off < in.len; off += BIN_CHUNK) {
        size_t n = in.len - off < BIN_CHUNK ? in.len - off : BIN_CHUNK;
        size_t m = (size_t)EVP_EncodeBlock(txt, in.base + off, (int)n);
        if (url) {
            translate(txt, m, 1);
            while (m > 0 && txt[m - 1] == '=')
                m--;
        }
        err = httpa_buf_append(out, txt, m);
    }
    httpa_wipe(txt, sizeof(txt));
    return err == HTTPA_OK ? HTTPA_OK : rollback(out, start, err);
}

/* The number of padding characters (present, or implied for base64url) when
 * `in` has a valid length and alphabet; -1 otherwise. */
static int padding(const char *in, size_t len, int url)
{
    size_t pad = 0;
    if (url) {
        if (len % 4 == 1)
            return -1;
        pad = (4 - len % 4) % 4;
    } else {
        if (len % 4 != 0)
            return -1;
        while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
            pad++;
    }
    for (size_t i = 0; i < len - (url ? 0 : pad); i++)
        if (!in_alphabet(in[i], url))
            return -1;
    return (int)pad;
}

/* One chunk of standard, padded text (a multiple of 4 characters). Decoding
 * then re-encoding must give the same text: that refuses non-zero padding
 * bits ("QR==") and any other second spelling. */
static httpa_err decode_chunk(const unsigned char *txt, size_t n, size_t pad, httpa_buf *out)
{
    unsigned char bin[BIN_CHUNK], again[TXT_CHUNK + 1];
    int m = EVP_DecodeBlock(bin, txt, (int)n);
    httpa_err err = HTTPA_ERR_BAD_REQUEST;
    if (m >= 0 && (size_t)m >= pad) {
        size_t got = (size_t)m - pad;
        if (EVP_EncodeBlock(again, bin, (int)got) == (int)n && httpa_ct_equal(again, txt, n))
            err = httpa_buf_append(out, bin, got);
    }
    httpa_wipe(bin, sizeof(bin));
    httpa_wipe(again, sizeof(again));
    return err;
}

static httpa_err decode(const char *in, size_t len, int url, httpa_buf *out)
{
    if (out == NULL || (len > 0 && in == NULL))
        return HTTPA_ERR_INVALID_ARG;
    int pad = padding(in, len, url);
    if (pad < 0)
        return HTTPA_ERR_BAD_REQUEST;
    unsigned char txt[TXT_CHUNK];
    size_t start = out->len;
    httpa_err err = HTTPA_OK;
    for (size_t off = 0; err == HTTPA_OK && off < len; off += TXT_CHUNK) {
        size_t n = len - off < TXT_CHUNK ? len - off : TXT_CHUNK;
        int last = off + n == len;
        memcpy(txt, in + off, n);
        if (url) {
            translate(txt, n, 0);
            /* Only the last chunk is short of a quad, so this stays in txt. */
            for (; n % 4 != 0; n++)
                txt[n] = '=';
        }
        err = decode_chunk(txt, n, last ? (size_t)pad : 0, out);
    }
    httpa_wipe(txt, sizeof(txt));
    return err == HTTPA_OK ? HTTPA_OK : rollback(out, start, err);
}

httpa_err httpa_base64_encode(httpa_span in, httpa_buf *out)
{
    return encode(in, 0, out);
}

httpa_err httpa_base64_decode(const char *in, size_t len, httpa_buf *out)
{
    return decode(in, len, 0, out);
}

httpa_err httpa_base64url_encode(httpa_span in, httpa_buf *out)
{
    return encode(in, 1, out);
}

httpa_err httpa_base64url_decode(const char *in, size_t len, httpa_buf *out)
{
    return decode(in, len, 1, out);
}
