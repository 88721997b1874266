/* Every bound on input from the network, in one configurable place. */
#ifndef HTTPA_LIMITS_H
#define HTTPA_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct httpa_limits {
    size_t max_field_value;    /* one combined Attest-* value; >= 16384 (profile 4.1) */
    size_t max_attest_fields;  /* Attest-* octets of one message; >= 65536 */
    size_t max_field_lines;    /* field lines in one message */
    size_t max_sf_members;     /* members of one list or dictionary */
    size_t max_cargo;          /* CargoPlain octets; >= 8192 (profile 9.3) */
    size_t max_secret;         /* one secret; the profile allows up to 8192 */
    uint64_t max_body;         /* declared or streamed plaintext of one body */
    size_t max_bases;          /* Attest Bases a server keeps */
    uint32_t record_size;      /* RS this side uses when sealing (1024..65536) */
} httpa_limits;

/* The defaults: 32 KiB per field, 128 KiB of Attest-* fields, 256 lines,
 * 1024 members, 64 KiB Cargo, 8 KiB secrets, 64 GiB bodies (the per-key
 * limit of profile 9.6), 100000 bases, RS 16384. */
httpa_limits httpa_limits_default(void);

/* `l` with each zero field replaced by its default (a caller sets only the
 * bounds it cares about). */
httpa_limits httpa_limits_resolve(httpa_limits l);

#ifdef __cplusplus
}
#endif
#endif
