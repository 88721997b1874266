/* Randomness source selection and the error responses of profile 13:
 * Attest-Error and an RFC 9457 problem+json body. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/session.h"

#define PROBLEM_TYPE_PREFIX "urn:httpa2:error:"
#define PROBLEM_MAX_BODY 4096

httpa_err httpa__rng(httpa_rng *rng, uint8_t *out, size_t len)
{
    if (out == NULL && len != 0)
        return HTTPA_ERR_INVALID_ARG;
    if (len == 0)
        return HTTPA_OK;
    if (rng != NULL && rng->fill != NULL)
        return rng->fill(rng, out, len);
    return httpa_random(out, len);
}

/* Local errors (no token) are reported as `internal`. */
static httpa_err wire_error(httpa_err err)
{
    return httpa_err_token(err) != NULL ? err : HTTPA_ERR_INTERNAL;
}

/* {"type":"urn:httpa2:error:<t>","title":"<t>","status":N[,"detail":"..."]} */
static json_t *problem_object(const char *token, int status, const char *detail)
{
    char type[64];
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    strcpy(type, PROBLEM_TYPE_PREFIX);
    strncat(type, token, sizeof(type) - sizeof(PROBLEM_TYPE_PREFIX));
    if (json_object_set_new(o, "type", json_string(type)) != 0 ||
        json_object_set_new(o, "title", json_string(token)) != 0 ||
        json_object_set_new(o, "status", json_integer(status)) != 0 ||
        (detail != NULL && json_object_set_new(o, "detail", json_string(detail)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static httpa_err problem_body(const char *token, int status, const char *detail, httpa_buf *body)
{
    json_t *o = problem_object(token, status, detail);
    if (o == NULL)
        return HTTPA_ERR_NOMEM;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        return HTTPA_ERR_NOMEM;
    httpa_err e = strlen(s) > PROBLEM_MAX_BODY ? HTTPA_ERR_TOO_LARGE
                                               : httpa_buf_append_str(body, s);
    free(s);
    return e;
}

httpa_err httpa__problem(httpa_err err, int status, const char *detail, httpa_msg *resp,
                         httpa_buf *body)
{
    if (resp == NULL || body == NULL || err == HTTPA_OK)
        return HTTPA_ERR_INVALID_ARG;
    err = wire_error(err);
    if (status < 100 || status > 599)
        status = httpa_err_status(err);
    const char *token = httpa_err_token(err);
    resp->is_response = true;
    resp->status = status;
    httpa_buf_reset(body);
    httpa_err e = httpa_msg_add_str(resp, "Attest-Error", token);
    if (e == HTTPA_OK)
        e = httpa_msg_add_str(resp, "Content-Type", "application/problem+json");
    if (e == HTTPA_OK)
        e = problem_body(token, status, detail, body);
    return e;
}

httpa_err httpa_error_response(httpa_err err, const char *detail, httpa_msg *resp, httpa_buf *body)
{
    if (resp == NULL || body == NULL || err == HTTPA_OK)
        return HTTPA_ERR_INVALID_ARG;
    httpa_msg_free(resp);
    httpa_msg_init_response(resp, 0);
    return httpa__problem(err, 0, detail, resp, body);
}
