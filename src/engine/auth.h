/* Attest-Ticket and Attest-Binder (profile section 10). */
#ifndef HTTPA_ENGINE_AUTH_H
#define HTTPA_ENGINE_AUTH_H

#include "suite.h"

/* ticket_mac = HMAC(mac_key, "httpa2 ticket" 0x00 || u64(seq) || ahl_full_hash) */
httpa_err httpa_ticket_mac(const httpa_suite *s, const uint8_t *mac_key, uint64_t seq,
                           const uint8_t *ahl_full_hash, uint8_t *out) HTTPA_MUST_USE;

/* binder_mac = HMAC(mac_key, "httpa2 binder" 0x00 || u64(seq) || bound || ahl_full_hash);
 * `bound` is the request's ticket_mac, or TH_hs for the AtHS response. */
httpa_err httpa_binder_mac(const httpa_suite *s, const uint8_t *mac_key, uint64_t seq,
                           const uint8_t *bound, const uint8_t *ahl_full_hash,
                           uint8_t *out) HTTPA_MUST_USE;

/* Split an Attest-Ticket/-Binder value (8 + Hlen octets) into seq and MAC
 * (a pointer into `v`). HTTPA_ERR_BAD_TICKET on a wrong length. */
httpa_err httpa_auth_split(const httpa_suite *s, httpa_span v, uint64_t *seq,
                           const uint8_t **mac) HTTPA_MUST_USE;

#endif
