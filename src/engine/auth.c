/* Attest-Ticket and Attest-Binder MACs (profile section 10). */
#include "engine/auth.h"

#define TICKET_LABEL "httpa2 ticket" /* followed by 0x00 */
#define BINDER_LABEL "httpa2 binder"

httpa_err httpa_ticket_mac(const httpa_suite *s, const uint8_t *mac_key, uint64_t seq,
                           const uint8_t *ahl_full_hash, uint8_t *out)
{
    if (s == NULL || mac_key == NULL || ahl_full_hash == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    uint8_t seq_be[8];
    httpa_put_u64(seq_be, seq);
    const httpa_span parts[] = {
        HTTPA_SPAN(TICKET_LABEL, sizeof(TICKET_LABEL)), /* with the 0x00 */
        HTTPA_SPAN(seq_be, sizeof(seq_be)),
        HTTPA_SPAN(ahl_full_hash, s->hlen),
    };
    return httpa_hmacv(s->hash, HTTPA_SPAN(mac_key, s->hlen), parts,
                       sizeof(parts) / sizeof(parts[0]), out);
}

httpa_err httpa_binder_mac(const httpa_suite *s, const uint8_t *mac_key, uint64_t seq,
                           const uint8_t *bound, const uint8_t *ahl_full_hash, uint8_t *out)
{
    if (s == NULL || mac_key == NULL || bound == NULL || ahl_full_hash == NULL || out == NULL)
        return HTTPA_ERR_INVALID_ARG;
    uint8_t seq_be[8];
    httpa_put_u64(seq_be, seq);
    const httpa_span parts[] = {
        HTTPA_SPAN(BINDER_LABEL, sizeof(BINDER_LABEL)), /* with the 0x00 */
        HTTPA_SPAN(seq_be, sizeof(seq_be)),
        HTTPA_SPAN(bound, s->hlen),
        HTTPA_SPAN(ahl_full_hash, s->hlen),
    };
    return httpa_hmacv(s->hash, HTTPA_SPAN(mac_key, s->hlen), parts,
                       sizeof(parts) / sizeof(parts[0]), out);
}

httpa_err httpa_auth_split(const httpa_suite *s, httpa_span v, uint64_t *seq,
                           const uint8_t **mac)
{
    if (s == NULL || seq == NULL || mac == NULL)
        return HTTPA_ERR_INVALID_ARG;
    if (v.base == NULL || v.len != 8 + s->hlen)
        return HTTPA_ERR_BAD_TICKET;
    *seq = httpa_get_u64(v.base);
    *mac = v.base + 8;
    return HTTPA_OK;
}
