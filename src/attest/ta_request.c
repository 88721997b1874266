/* The TA's appraisal request parser and its problem+json answers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "httpa/crypto.h"
#include "ta_int.h"

static const char *const P_NAMES[] = {
#define HTTPA_TA_X(id, name, status, title) name,
    HTTPA_TA_PROBLEMS(HTTPA_TA_X)
#undef HTTPA_TA_X
};
static const int P_STATUS[] = {
#define HTTPA_TA_X(id, name, status, title) status,
    HTTPA_TA_PROBLEMS(HTTPA_TA_X)
#undef HTTPA_TA_X
};
static const char *const P_TITLES[] = {
#define HTTPA_TA_X(id, name, status, title) title,
    HTTPA_TA_PROBLEMS(HTTPA_TA_X)
#undef HTTPA_TA_X
};

const char *httpa_ta_problem_name(httpa_ta_problem p)
{
    return (unsigned)p < HTTPA_TA_P__COUNT ? P_NAMES[p] : "internal";
}

int httpa_ta_problem_status(httpa_ta_problem p)
{
    return (unsigned)p < HTTPA_TA_P__COUNT ? P_STATUS[p] : 500;
}

const char *httpa_ta_problem_title(httpa_ta_problem p)
{
    return (unsigned)p < HTTPA_TA_P__COUNT ? P_TITLES[p] : "internal failure";
}

httpa_err ta_problem_body(httpa_ta_problem p, const char *detail, const char *reason,
                          httpa_buf *out)
{
    char type[96];
    snprintf(type, sizeof(type), "%s%s", HTTPA_TA_PROBLEM_PREFIX, httpa_ta_problem_name(p));
    json_t *o = json_pack("{s:s,s:s,s:i}", "type", type, "title", httpa_ta_problem_title(p),
                          "status", httpa_ta_problem_status(p));
    if (o != NULL && detail != NULL && detail[0] != '\0')
        json_object_set_new(o, "detail", json_string(detail));
    if (o != NULL && reason != NULL && reason[0] != '\0')
        json_object_set_new(o, "reason", json_string(reason));
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    httpa_err e = s != NULL ? httpa_buf_append_str(out, s) : HTTPA_ERR_NOMEM;
    free(s);
    return e;
}

/* ---- POST /v1/appraise ---- */

static httpa_err bad(char *why, size_t n, httpa_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static httpa_err bad(char *why, size_t n, httpa_err e, const char *fmt, ...)
{
    if (why != NULL && n > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return e;
}

static httpa_err parse_tee(json_t *root, httpa_ta_appraise_req *out, char *why, size_t n)
{
    json_t *t = json_object_get(root, "tee");
    if (!json_is_string(t) || json_string_length(t) == 0 ||
        json_string_length(t) >= sizeof(out->tee) ||
        strlen(json_string_value(t)) != json_string_length(t))
        return bad(why, n, HTTPA_ERR_BAD_REQUEST, "\"tee\" must be a TEE token (sgx, tdx, sim)");
    memcpy(out->tee, json_string_value(t), json_string_length(t) + 1);
    json_t *f = json_object_get(root, "format");
    if (f != NULL && !(json_is_string(f) && strcmp(json_string_value(f), "raw") == 0))
        return bad(why, n, HTTPA_ERR_BAD_REQUEST, "\"format\" must be \"raw\" when present");
    return HTTPA_OK;
}

static httpa_err parse_evidence(json_t *root, httpa_ta_appraise_req *out, char *why, size_t n)
{
    json_t *ev = json_object_get(root, "evidence");
    if (!json_is_string(ev) || json_string_length(ev) == 0)
        return bad(why, n, HTTPA_ERR_BAD_REQUEST,
                   "\"evidence\" must be the evidence in standard base64");
    if (json_string_length(ev) > (HTTPA_TA_EVIDENCE_MAX + 2) / 3 * 4)
        return bad(why, n, HTTPA_ERR_TOO_LARGE, "evidence larger than %d octets",
                   HTTPA_TA_EVIDENCE_MAX);
    httpa_err e = httpa_base64_decode(json_string_value(ev), json_string_length(ev), &out->evidence);
    if (e == HTTPA_ERR_TOO_LARGE)
        return bad(why, n, e, "evidence larger than %d octets", HTTPA_TA_EVIDENCE_MAX);
    if (e != HTTPA_OK || out->evidence.len == 0)
        return bad(why, n, HTTPA_ERR_BAD_REQUEST,
                   "\"evidence\" is not canonical padded standard base64");
    return HTTPA_OK;
}

static httpa_err parse_nonce(json_t *root, httpa_ta_appraise_req *out, char *why, size_t n)
{
    json_t *v = json_object_get(root, "nonce");
    httpa_buf b;
    if (v == NULL)
        return HTTPA_OK;
    httpa_buf_init(&b, 128);
    bool ok = json_is_string(v) &&
              httpa_base64url_decode(json_string_value(v), json_string_length(v), &b) == HTTPA_OK &&
              b.len == HTTPA_REPORT_DATA_LEN;
    if (ok)
        memcpy(out->nonce, b.base, HTTPA_REPORT_DATA_LEN);
    httpa_buf_free(&b);
    out->has_nonce = ok;
    return ok ? HTTPA_OK
              : bad(why, n, HTTPA_ERR_BAD_REQUEST,
                    "\"nonce\" must be base64url (no padding) of the 64-octet report_data");
}

httpa_err httpa_ta_parse_appraise(const char *json, size_t len, httpa_ta_appraise_req *out,
                                  char *why, size_t why_len)
{
    json_error_t je;
    if (out == NULL || (json == NULL && len != 0))
        return HTTPA_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    httpa_buf_init(&out->evidence, HTTPA_TA_EVIDENCE_MAX);
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    httpa_err e = HTTPA_OK;
    if (!json_is_object(root))
        e = bad(why, why_len, HTTPA_ERR_BAD_REQUEST, "not a JSON object: %s",
                root == NULL ? je.text : "another JSON value");
    if (e == HTTPA_OK)
        e = parse_tee(root, out, why, why_len);
    if (e == HTTPA_OK)
        e = parse_evidence(root, out, why, why_len);
    if (e == HTTPA_OK)
        e = parse_nonce(root, out, why, why_len);
    json_decref(root);
    if (e != HTTPA_OK)
        httpa_ta_appraise_req_free(out);
    return e;
}

void httpa_ta_appraise_req_free(httpa_ta_appraise_req *r)
{
    if (r == NULL)
        return;
    httpa_buf_free(&r->evidence);
    r->has_nonce = false;
}
