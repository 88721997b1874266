/* Error codes shared by every httpa module. */
#ifndef HTTPA_ERR_H
#define HTTPA_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HTTPA_MUST_USE __attribute__((warn_unused_result))
#else
#define HTTPA_MUST_USE
#endif

/* HTTPA_OK is 0; every error is a positive code from err_list.h. */
typedef enum httpa_err {
    HTTPA_OK = 0,
#define HTTPA_ERR(name, token, status, msg) HTTPA_ERR_##name,
#include "err_list.h"
#undef HTTPA_ERR
    HTTPA_ERR__COUNT
} httpa_err;

/* A sentence describing the error; never NULL. */
const char *httpa_strerror(httpa_err e);

/* The symbolic name without prefix ("BAD_TICKET"); never NULL. */
const char *httpa_err_name(httpa_err e);

/* The profile's Attest-Error token ("bad_ticket"), or NULL for a local error. */
const char *httpa_err_token(httpa_err e);

/* The HTTP status a server answers with, or 0 for a local error. */
int httpa_err_status(httpa_err e);

/* The error whose Attest-Error token is `token` (len octets); an unknown
 * token maps to HTTPA_ERR_INTERNAL as section 13.1 requires. */
httpa_err httpa_err_from_token(const char *token, size_t len);

#ifdef __cplusplus
}
#endif
#endif
