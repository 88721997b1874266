#include <stddef.h>
#include <string.h>

#include "httpa/err.h"

/* Switches without `default:` so -Wswitch flags a code without an entry. */
const char *httpa_strerror(httpa_err e)
{
    switch (e) {
    case HTTPA_OK:
        return "success";
#define HTTPA_ERR(name, token, status, msg) \
    case HTTPA_ERR_##name:                   \
        return msg;
#include "httpa/err_list.h"
#undef HTTPA_ERR
    case HTTPA_ERR__COUNT:
        break;
    }
    return "unknown error";
}

const char *httpa_err_name(httpa_err e)
{
    switch (e) {
    case HTTPA_OK:
        return "OK";
#define HTTPA_ERR(name, token, status, msg) \
    case HTTPA_ERR_##name:                   \
        return #name;
#include "httpa/err_list.h"
#undef HTTPA_ERR
    case HTTPA_ERR__COUNT:
        break;
    }
    return "UNKNOWN";
}

const char *httpa_err_token(httpa_err e)
{
    switch (e) {
    case HTTPA_OK:
        return NULL;
#define HTTPA_ERR(name, token, status, msg) \
    case HTTPA_ERR_##name:                   \
        return token;
#include "httpa/err_list.h"
#undef HTTPA_ERR
    case HTTPA_ERR__COUNT:
        break;
    }
    return NULL;
}

int httpa_err_status(httpa_err e)
{
    switch (e) {
    case HTTPA_OK:
        return 0;
#define HTTPA_ERR(name, token, status, msg) \
    case HTTPA_ERR_##name:                   \
        return status;
#include "httpa/err_list.h"
#undef HTTPA_ERR
    case HTTPA_ERR__COUNT:
        break;
    }
    return 0;
}

httpa_err httpa_err_from_token(const char *token, size_t len)
{
    for (int e = HTTPA_OK + 1; e < HTTPA_ERR__COUNT; e++) {
        const char *t = httpa_err_token((httpa_err)e);
        if (t != NULL && strlen(t) == len && memcmp(t, token, len) == 0)
            return (httpa_err)e;
    }
    return HTTPA_ERR_INTERNAL;
}
