/* What the httpa command writes: the body (only once it verified
 * completely, unless --no-buffer), the exit status, and the --json summary.
 * Sealed values never appear: sealed fields are shown by name and length. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

/* ---- the body ---- */

static FILE *open_tmp_beside(cli_sink *s, const char *path)
{
    size_t n = strlen(path) + 16;
    s->tmp = malloc(n);
    if (s->tmp == NULL)
        return NULL;
    snprintf(s->tmp, n, "%s.httpaXXXXXX", path);
    int fd = mkstemp(s->tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(s->tmp);
        }
        free(s->tmp);
        s->tmp = NULL;
    }
    return f;
}

bool cli_sink_open(cli_sink *s, const cli_opts *o, FILE *out, FILE *err)
{
    memset(s, 0, sizeof(*s));
    s->out = out;
    s->path = o->output;
    if (o->output != NULL)
        s->f = o->no_buffer ? fopen(o->output, "wb") : open_tmp_beside(s, o->output);
    else if (o->no_buffer && !o->json)
        s->f = out;
    else
        s->spool = (s->f = tmpfile()) != NULL;
    if (s->f == NULL)
        fprintf(err, "httpa: cannot open %s: %s\n", o->output ? o->output : "a spool file",
                strerror(errno));
    return s->f != NULL;
}

httpa_err cli_sink_write(void *arg, const uint8_t *p, size_t n)
{
    cli_sink *s = arg;
    size_t room = sizeof(s->head) - 1 - s->head_len;
    size_t k = n < room ? n : room;
    if (k != 0)
        memcpy(s->head + s->head_len, p, k);
    s->head_len += k;
    s->head[s->head_len] = '\0';
    if (fwrite(p, 1, n, s->f) != n) {
        s->failed = true;
        return HTTPA_ERR_IO;
    }
    return HTTPA_OK;
}

static bool copy_spool(cli_sink *s)
{
    char buf[64 * 1024];
    size_t k;
    rewind(s->f);
    while ((k = fread(buf, 1, sizeof(buf), s->f)) != 0)
        if (fwrite(buf, 1, k, s->out) != k)
            return false;
    return !ferror(s->f) && fflush(s->out) == 0;
}

bool cli_sink_close(cli_sink *s, bool ok, bool to_out, FILE *err)
{
    bool written = true;
    if (s->spool) {
        written = !ok || !to_out || copy_spool(s);
        fclose(s->f);
    } else if (s->tmp != NULL) {
        written = fclose(s->f) == 0;
        if (ok && written)
            written = rename(s->tmp, s->path) == 0;
        if (!ok || !written)
            unlink(s->tmp);
        free(s->tmp);
    } else if (s->f != s->out) {
        written = fclose(s->f) == 0;
    } else {
        written = fflush(s->f) == 0;
    }
    if (!written)
        fprintf(err, "httpa: cannot write the body to %s: %s\n", s->path ? s->path : "output",
                strerror(errno));
    s->f = NULL;
    return written;
}

/* ---- the exit status ---- */

httpa_err cli_attest_error(const httpa_curl_resp *r)
{
    if (r->err != HTTPA_OK || !r->binder_verified || r->attest_error == NULL)
        return HTTPA_OK;
    const char *t = r->attest_error;
    httpa_err e = httpa_err_from_token(t, strcspn(t, " \t"));
    return e == HTTPA_OK ? HTTPA_ERR_INTERNAL : e;
}

/* The problem+json "detail" of the body's head, or NULL. */
static char *problem_detail(const cli_sink *s)
{
    json_t *j = json_loadb(s->head, s->head_len, 0, NULL);
    const char *d = json_string_value(json_object_get(j, "detail"));
    char *out = d != NULL ? strdup(d) : NULL;
    json_decref(j);
    return out;
}

void cli_report_attest_error(const httpa_curl_resp *r, const cli_sink *s, FILE *err)
{
    httpa_err e = cli_attest_error(r);
    if (e == HTTPA_OK)
        return;
    char *detail = problem_detail(s);
    fprintf(err, "httpa: %s (%s error, authenticated %d from the server's TEE)%s%s\n",
            r->attest_error, httpa_curl_class_name(httpa_curl_err_class(e)), r->status,
            detail ? ": " : "", detail ? detail : "");
    free(detail);
}

int cli_exit_code(const cli_opts *o, const httpa_curl_resp *r)
{
    httpa_err ae = cli_attest_error(r);
    if (ae != HTTPA_OK)
        return ae == HTTPA_ERR_POLICY_VIOLATION ? HTTPA_CLI_EXIT_POLICY : HTTPA_CLI_EXIT_PROTOCOL;
    switch (r->cls) {
    case HTTPA_CURL_CLASS_NONE:
        return o->fail && r->status >= 400 ? HTTPA_CLI_EXIT_HTTP : HTTPA_CLI_EXIT_OK;
    case HTTPA_CURL_CLASS_LOCAL:
        return HTTPA_CLI_EXIT_USAGE;
    case HTTPA_CURL_CLASS_NETWORK:
        return HTTPA_CLI_EXIT_NETWORK;
    case HTTPA_CURL_CLASS_ATTESTATION:
        return HTTPA_CLI_EXIT_ATTESTATION;
    case HTTPA_CURL_CLASS_POLICY:
        return HTTPA_CLI_EXIT_POLICY;
    case HTTPA_CURL_CLASS_PROTOCOL:
        return HTTPA_CLI_EXIT_PROTOCOL;
    }
    return HTTPA_CLI_EXIT_PROTOCOL;
}

/* ---- --json ---- */

static json_t *hexj(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char s[2 * 64 + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < sizeof(s); i++) {
        s[k++] = digits[p[i] >> 4];
        s[k++] = digits[p[i] & 15];
    }
    s[k] = '\0';
    return json_string(s);
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

static json_t *evidence_json(const httpa_curl_attestation *a)
{
    json_t *list = json_array();
    for (size_t i = 0; i < a->nevidence; i++) {
        const httpa_curl_evidence *ev = &a->evidence[i];
        json_t *e = json_object();
        set(e, "tee", json_string(ev->tee));
        set(e, "format", json_string(ev->format));
        set(e, "result", json_string(!ev->appraised              ? "not appraised"
                                     : ev->result == HTTPA_OK    ? "accepted"
                                     : ev->result == HTTPA_ERR_UNSUPPORTED ? "ignored"
                                                                           : "rejected"));
        if (ev->appraised && ev->result != HTTPA_OK)
            set(e, "error", json_string(httpa_err_name(ev->result)));
        json_array_append_new(list, e);
    }
    return list;
}

static json_t *attestation_json(const httpa_curl_attestation *a)
{
    json_t *o = json_object();
    const httpa_appraisal *ap = &a->appraisal;
    set(o, "base_id", a->base_id[0] ? json_string(a->base_id) : NULL);
    set(o, "suite", a->suite[0] ? json_string(a->suite) : NULL);
    set(o, "mode", a->mode[0] ? json_string(a->mode) : NULL);
    set(o, "expires_at", a->expires_at ? json_integer(a->expires_at) : NULL);
    set(o, "evidence", evidence_json(a));
    if (a->base_id[0] != '\0') {
        set(o, "simulated", json_boolean(ap->simulated));
        set(o, "debug", json_boolean(ap->debug));
        set(o, "tcb_status", ap->tcb_status[0] ? json_string(ap->tcb_status) : NULL);
        set(o, "measurement", hexj(ap->measurement, ap->measurement_len));
        set(o, "report_data", hexj(ap->report_data, HTTPA_REPORT_DATA_LEN));
    }
    return o;
}

/* Sealed values are never printed: name and length only. */
static json_t *headers_json(const httpa_msg *m)
{
    json_t *list = json_array();
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        json_t *f = json_object();
        set(f, "name", json_stringn(h->name, h->name_len));
        set(f, "sealed", json_boolean(h->sealed));
        if (h->sealed)
            set(f, "length", json_integer((json_int_t)h->value_len));
        else
            set(f, "value", json_stringn(h->value, h->value_len));
        json_array_append_new(list, f);
    }
    return list;
}

static json_t *request_json(const httpa_curl_resp *r)
{
    json_t *o = json_object(), *sealed = json_array(), *clear = json_array();
    for (size_t i = 0; i < r->nfields; i++) {
        const httpa_curl_field *f = &r->fields[i];
        if (f->sealed)
            json_array_append_new(sealed, json_pack("{s:s,s:I}", "name", f->name, "length",
                                                    (json_int_t)f->value_len));
        else
            json_array_append_new(clear, json_string(f->name));
    }
    set(o, "target_sealed", json_boolean(r->target_sealed));
    set(o, "sealed_fields", sealed);
    set(o, "clear_fields", clear);
    return o;
}

/* An authenticated Attest-Error as the error object. */
static json_t *attest_error_json(const httpa_curl_resp *r, httpa_err e)
{
    json_t *o = json_object();
    set(o, "code", json_string(httpa_err_name(e)));
    set(o, "token", json_string(r->attest_error));
    set(o, "class", json_string(httpa_curl_class_name(httpa_curl_err_class(e))));
    set(o, "message", json_string("an authenticated error from the server's TEE"));
    set(o, "authenticated", json_true());
    return o;
}

static json_t *error_json(const httpa_curl_resp *r)
{
    httpa_err ae = cli_attest_error(r);
    if (ae != HTTPA_OK)
        return attest_error_json(r, ae);
    if (r->err == HTTPA_OK)
        return NULL;
    json_t *o = json_object();
    set(o, "code", json_string(httpa_err_name(r->err)));
    set(o, "token", httpa_err_token(r->err) ? json_string(httpa_err_token(r->err)) : NULL);
    set(o, "class", json_string(httpa_curl_class_name(r->cls)));
    set(o, "message", json_string(r->message));
    return o;
}

/* The spooled body: text when it is UTF-8, else base64; up to a bound. */
static void body_json(json_t *o, cli_sink *s, const httpa_curl_resp *r)
{
    set(o, "body_length", json_integer((json_int_t)r->body_octets));
    if (!s->spool || r->err != HTTPA_OK)
        return;
    if (r->body_octets > CLI_JSON_BODY_MAX) {
        set(o, "body_omitted", json_string("larger than 16 MiB: use -o FILE"));
        return;
    }
    httpa_buf b, b64;
    httpa_buf_init(&b, CLI_JSON_BODY_MAX);
    httpa_buf_init(&b64, 2 * CLI_JSON_BODY_MAX);
    rewind(s->f);
    if (httpa_buf_reserve(&b, (size_t)r->body_octets + 1) == HTTPA_OK) {
        b.len = fread(b.base, 1, (size_t)r->body_octets, s->f);
        json_t *text = json_stringn((const char *)b.base, b.len);
        if (text != NULL)
            set(o, "body", text);
        else if (httpa_base64_encode(httpa_buf_span(&b), &b64) == HTTPA_OK)
            set(o, "body_base64", json_stringn((const char *)b64.base, b64.len));
    }
    httpa_buf_free(&b);
    httpa_buf_free(&b64);
}

void cli_json(const cli_opts *o, const httpa_curl_resp *r, int code, cli_sink *s, FILE *out)
{
    json_t *j = json_object();
    set(j, "ok", json_boolean(code == HTTPA_CLI_EXIT_OK));
    set(j, "exit_code", json_integer(code));
    set(j, "error", error_json(r));
    set(j, "url", json_string(o->url));
    set(j, "status", r->binder_verified ? json_integer(r->status) : NULL);
    set(j, "binder_verified", json_boolean(r->binder_verified));
    set(j, "attest_error", r->attest_error ? json_string(r->attest_error) : NULL);
    set(j, "headers", headers_json(&r->msg));
    set(j, "handshake", json_boolean(r->handshake));
    set(j, "provisioned", json_boolean(r->provisioned));
    set(j, "request", request_json(r));
    set(j, "attestation", r->attestation.valid ? attestation_json(&r->attestation) : NULL);
    set(j, "suite", r->attestation.suite[0] ? json_string(r->attestation.suite) : NULL);
    set(j, "base_id", r->attestation.base_id[0] ? json_string(r->attestation.base_id) : NULL);
    body_json(j, s, r);
    json_dumpf(j, out, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    fputc('\n', out);
    json_decref(j);
}
