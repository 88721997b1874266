/* Default bounds on network input (include/httpa/limits.h). */
#include "httpa/limits.h"

httpa_limits httpa_limits_default(void)
{
    /* Each default is at least the minimum the profile obliges a receiver
     * to accept (4.1 rule 7, 9.3), so a conforming peer is never refused. */
    return (httpa_limits){
        .max_field_value = 32u * 1024u,
        .max_attest_fields = 128u * 1024u,
        .max_field_lines = 256u,
        .max_sf_members = 1024u,
        .max_cargo = 64u * 1024u,
        .max_secret = 8u * 1024u,
        .max_body = UINT64_C(64) << 30, /* per-key limit of profile 9.6 */
        .max_bases = 100000u,
        .record_size = 16384u,
    };
}
