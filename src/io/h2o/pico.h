/* picohttpparser, as built into libh2o-evloop (h2o 2.2.5 exports the
 * symbols but installs no header). Only the functions the upstream client
 * needs. Private to src/io/h2o. */
#ifndef HTTPA_IO_H2O_PICO_H
#define HTTPA_IO_H2O_PICO_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Returns the head length, -1 on a parse error, -2 when incomplete. */
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status,
                       const char **msg, size_t *msg_len, struct phr_header *headers,
                       size_t *num_headers, size_t last_len);

/* The decoder state. The library's struct is a prefix of this one; the
 * padding keeps a future library with more fields from writing past it. */
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
    char _reserved[64];
};

/* Decodes in place: on return *bufsz is the decoded length at buf. Returns
 * -2 when more input is needed, -1 on error, otherwise the number of octets
 * after the end of the chunked body (starting at buf + *bufsz). */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#endif
