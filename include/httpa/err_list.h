/* The single list of httpa error codes (X-macro). Append only: never renumber.
 *
 *          name                token                 status  message
 * Protocol errors carry the profile's Attest-Error token (section 13.1) and
 * HTTP status; local errors have token NULL and status 0. */
HTTPA_ERR(BAD_REQUEST,        "bad_request",        400, "malformed or inconsistent HTTPA message")
HTTPA_ERR(NEGOTIATION_FAILED, "negotiation_failed", 400, "no common version, cipher suite, group or transport")
HTTPA_ERR(STALE_DATE,         "stale_date",         400, "Attest-Date is too far from the server's clock")
HTTPA_ERR(REPLAY,             "replay",             403, "replayed Attest-Random or sequence number")
HTTPA_ERR(UNKNOWN_BASE,       "unknown_base",       503, "unknown Attest-Base-ID")
HTTPA_ERR(EXPIRED_BASE,       "expired_base",       503, "Attest Base expired, terminated or at its usage limit")
HTTPA_ERR(BAD_TICKET,         "bad_ticket",         403, "ticket or binder missing, malformed or not verified")
HTTPA_ERR(BAD_QUOTE,          "bad_quote",          403, "evidence, signature or attested key rejected")
HTTPA_ERR(POLICY_VIOLATION,   "policy_violation",   403, "request or evidence violates policy")
HTTPA_ERR(TOO_LARGE,          "too_large",          413, "input exceeds a configured limit")
HTTPA_ERR(INTERNAL,           "internal",           500, "internal failure")
HTTPA_ERR(NOMEM,              NULL,                 0,   "out of memory")
HTTPA_ERR(LIBRARY,            NULL,                 0,   "cryptographic library failure")
HTTPA_ERR(INVALID_ARG,        NULL,                 0,   "invalid argument")
HTTPA_ERR(BAD_STATE,          NULL,                 0,   "call not valid in this state")
HTTPA_ERR(UNSUPPORTED,        NULL,                 0,   "unsupported algorithm, format or feature")
HTTPA_ERR(IO,                 NULL,                 0,   "input/output failure")
HTTPA_ERR(NETWORK,            NULL,                 0,   "network failure")
