/* Test-only helpers: hex, the shared vectors, small assertions. */
#ifndef HTTPA_TESTLIB_H
#define HTTPA_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "httpa/buf.h"

/* Path of a file under ../shared (HTTPA_SHARED_DIR); static storage. */
const char *tl_shared_path(const char *rel);

/* The whole file at `path` (caller frees); fails the test when it cannot. */
httpa_buf tl_read_file(const char *path);

/* Load a JSON file under ../shared; fails the test when it cannot. Caller
 * json_decref()s. */
json_t *tl_load_json(const char *rel);

/* The profile vectors (loaded once per process; do not decref). */
json_t *tl_vectors(void);

/* Decode lowercase hex into a new httpa_buf (caller frees). Fails the test
 * on bad hex. */
httpa_buf tl_hex(const char *hex);

/* Decode the hex string at JSON path `key` of object `o`. */
httpa_buf tl_hex_at(json_t *o, const char *key);

/* Object member lookup that fails the test when the member is missing. */
json_t *tl_get(json_t *o, const char *key);
const char *tl_str(json_t *o, const char *key);
int64_t tl_int(json_t *o, const char *key);

/* Assert that a buffer equals expected octets, printing both in hex if not. */
#define tl_assert_bytes(got, got_len, want, want_len) \
    tl_assert_bytes_((got), (got_len), (want), (want_len), __FILE__, __LINE__)
void tl_assert_bytes_(const void *got, size_t got_len, const void *want, size_t want_len,
                      const char *file, int line);

#endif
