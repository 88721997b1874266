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

httpa_limits httpa_limits_resolve(httpa_limits l)
{
    httpa_limits d = httpa_limits_default();
    if (l.max_field_value == 0)
        l.max_field_value = d.max_field_value;
    if (l.max_attest_fields == 0)
        l.max_attest_fields = d.max_attest_fields;
    if (l.max_field_lines == 0)
        l.max_field_lines = d.max_field_lines;
    if (l.max_sf_members == 0)
        l.max_sf_members = d.max_sf_members;
    if (l.max_cargo == 0)
        l.max_cargo = d.max_cargo;
    if (l.max_secret == 0)
        l.max_secret = d.max_secret;
    if (l.max_body == 0)
        l.max_body = d.max_body;
    if (l.max_bases == 0)
        l.max_bases = d.max_bases;
    if (l.record_size == 0)
        l.record_size = d.record_size;
    return l;
}
