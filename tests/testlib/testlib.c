#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

const char *tl_shared_path(const char *rel)
{
    static _Thread_local char path[4096];
    const char *dir = getenv("HTTPA_SHARED_DIR");
    if (dir == NULL || *dir == '\0')
        dir = "../shared";
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return path;
}

json_t *tl_load_json(const char *rel)
{
    json_error_t err;
    json_t *j = json_load_file(tl_shared_path(rel), JSON_DECODE_ANY, &err);
    if (j == NULL)
        fail_msg("cannot load %s: %s (line %d)", tl_shared_path(rel), err.text, err.line);
    return j;
}

json_t *tl_vectors(void)
{
    static json_t *v;
    if (v == NULL)
        v = tl_load_json("spec/vectors.json");
    return v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

httpa_buf tl_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    httpa_buf b;
    uint8_t chunk[4096];
    size_t n;
    if (f == NULL)
        fail_msg("cannot open %s", path);
    httpa_buf_init(&b, 1 << 22);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(httpa_buf_append(&b, chunk, n), HTTPA_OK);
    fclose(f);
    return b;
}

httpa_buf tl_hex(const char *hex)
{
    httpa_buf b;
    size_t n = strlen(hex);
    httpa_buf_init(&b, SIZE_MAX);
    if (n % 2 != 0)
        fail_msg("odd hex length %zu", n);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            fail_msg("bad hex at %zu", i);
        assert_int_equal(httpa_buf_append_u8(&b, (uint8_t)(hi << 4 | lo)), HTTPA_OK);
    }
    return b;
}

json_t *tl_get(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        fail_msg("missing JSON member %s", key);
    return v;
}

const char *tl_str(json_t *o, const char *key)
{
    json_t *v = tl_get(o, key);
    if (!json_is_string(v))
        fail_msg("JSON member %s is not a string", key);
    return json_string_value(v);
}

int64_t tl_int(json_t *o, const char *key)
{
    json_t *v = tl_get(o, key);
    if (!json_is_integer(v))
        fail_msg("JSON member %s is not an integer", key);
    return (int64_t)json_integer_value(v);
}

httpa_buf tl_hex_at(json_t *o, const char *key)
{
    return tl_hex(tl_str(o, key));
}

static void print_hex(const char *label, const void *p, size_t n)
{
    const uint8_t *b = p;
    fprintf(stderr, "%s (%zu):", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02x", b[i]);
    fprintf(stderr, "\n");
}

void tl_assert_bytes_(const void *got, size_t got_len, const void *want, size_t want_len,
                      const char *file, int line)
{
    if (got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0))
        return;
    print_hex("got ", got, got_len);
    print_hex("want", want, want_len);
    _fail(file, line);
}
