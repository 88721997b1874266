/* The structure of Intel DCAP ECDSA quotes, versions 3 (SGX), 4 (SGX, TDX
 * 1.0) and 5 (SGX, TDX 1.0, TDX 1.5), as laid out in Intel's "SGX ECDSA
 * Quote Library API" and "TDX DCAP Quoting Library API" appendices.
 *
 * Every integer in a quote is little-endian, unlike httpa's own formats, so
 * integers are taken as spans through httpa_reader (which does every bounds
 * check) and decoded here. No cryptography happens in this file. */
#include <stdio.h>
#include <string.h>

#include "dcap_int.h"

#define SIG_LEN 64
#define KEY_LEN 64
#define QE_REPORT_LEN 384
#define SGX_REPORT_DATA_AT 320
#define TD_REPORT_DATA_AT 520
#define V5_BODY_TYPE_SGX 1
#define V5_BODY_TYPE_TD10 2
#define V5_BODY_TYPE_TD15 3

/* Intel's QE vendor ID, 939A7233-F79C-4CA9-940A-0DB3957F0607. */
static const uint8_t INTEL_QE_VENDOR[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The reader reports short input as BAD_REQUEST; for a quote it is BAD_QUOTE. */
static httpa_err take(httpa_reader *r, size_t n, httpa_span *out)
{
    return httpa_read_span(r, n, out) == HTTPA_OK ? HTTPA_OK : HTTPA_ERR_BAD_QUOTE;
}

static httpa_err take_copy(httpa_reader *r, void *dst, size_t n)
{
    httpa_span s;
    if (take(r, n, &s) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    memcpy(dst, s.base, n);
    return HTTPA_OK;
}

static httpa_err take_u16(httpa_reader *r, uint16_t *v)
{
    httpa_span s;
    if (take(r, 2, &s) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    *v = le16(s.base);
    return HTTPA_OK;
}

static httpa_err take_u32(httpa_reader *r, uint32_t *v)
{
    httpa_span s;
    if (take(r, 4, &s) != HTTPA_OK)
        return HTTPA_ERR_BAD_QUOTE;
    *v = le32(s.base);
    return HTTPA_OK;
}

static httpa_err malformed(httpa_dcap_diag *d, const char *what)
{
    return dcap_fail(d, HTTPA_DCAP_QUOTE_MALFORMED, "%s", what);
}

/* The 384-octet SGX report body (also the QE report). */
static httpa_err parse_enclave_report(httpa_span s, httpa_dcap_enclave_report *o)
{
    httpa_reader r = httpa_reader_of(s);
    if (take_copy(&r, o->cpusvn, 16) || take_u32(&r, &o->miscselect)
        || take_copy(&r, o->reserved1, 28) || take_copy(&r, o->attributes, 16)
        || take_copy(&r, o->mrenclave, 32) || take_copy(&r, o->reserved2, 32)
        || take_copy(&r, o->mrsigner, 32) || take_copy(&r, o->reserved3, 96)
        || take_u16(&r, &o->isvprodid) || take_u16(&r, &o->isvsvn)
        || take_copy(&r, o->reserved4, 60) || take_copy(&r, o->report_data, 64))
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

/* A TD report body of 584 (TDX 1.0) or 648 (TDX 1.5) octets. */
static httpa_err parse_td_report(httpa_span s, httpa_dcap_td_report *o)
{
    httpa_reader r = httpa_reader_of(s);
    if (take_copy(&r, o->tee_tcb_svn, 16) || take_copy(&r, o->mrseam, 48)
        || take_copy(&r, o->mrsignerseam, 48) || take_copy(&r, o->seam_attributes, 8)
        || take_copy(&r, o->td_attributes, 8) || take_copy(&r, o->xfam, 8)
        || take_copy(&r, o->mrtd, 48) || take_copy(&r, o->mrconfigid, 48)
        || take_copy(&r, o->mrowner, 48) || take_copy(&r, o->mrownerconfig, 48))
        return HTTPA_ERR_BAD_QUOTE;
    for (size_t i = 0; i < 4; i++)
        if (take_copy(&r, o->rtmr[i], 48))
            return HTTPA_ERR_BAD_QUOTE;
    if (take_copy(&r, o->report_data, 64))
        return HTTPA_ERR_BAD_QUOTE;
    if (s.len == HTTPA_DCAP_TD15_BODY_LEN
        && (take_copy(&r, o->tee_tcb_svn2, 16) || take_copy(&r, o->mrservicetd, 48)))
        return HTTPA_ERR_BAD_QUOTE;
    return HTTPA_OK;
}

static httpa_err parse_header(httpa_reader *r, httpa_dcap_quote *q, httpa_dcap_diag *d)
{
    uint8_t reserved[4];
    if (take_u16(r, &q->version) || take_u16(r, &q->att_key_type) || take_u32(r, &q->tee_type)
        || take_copy(r, reserved, 4) || take_copy(r, q->qe_vendor_id, 16)
        || take_copy(r, q->user_data, 20))
        return malformed(d, "quote shorter than its 48-octet header");
    if (q->version < 3 || q->version > 5)
        return dcap_fail(d, HTTPA_DCAP_QUOTE_VERSION_UNSUPPORTED, "version %u", q->version);
    if (q->att_key_type != HTTPA_DCAP_KEY_ECDSA_P256)
        return dcap_fail(d, HTTPA_DCAP_QUOTE_KEY_TYPE_UNSUPPORTED, "key type %u", q->att_key_type);
    /* Version 3 predates TDX: its header field is reserved and must be 0 (SGX). */
    if ((q->tee_type != HTTPA_DCAP_TEE_SGX && q->tee_type != HTTPA_DCAP_TEE_TDX)
        || (q->version == 3 && q->tee_type != HTTPA_DCAP_TEE_SGX))
        return dcap_fail(d, HTTPA_DCAP_QUOTE_TEE_UNSUPPORTED, "TEE type 0x%x in a v%u quote",
                         (unsigned)q->tee_type, q->version);
    if (memcmp(q->qe_vendor_id, INTEL_QE_VENDOR, sizeof(INTEL_QE_VENDOR)) != 0)
        return dcap_fail(d, HTTPA_DCAP_QUOTE_VENDOR_UNKNOWN, "not Intel's QE");
    return HTTPA_OK;
}

/* Version 5 announces the body with a type and a size; v3/v4 imply it. */
static httpa_err body_kind(httpa_reader *r, httpa_dcap_quote *q, size_t *len, httpa_dcap_diag *d)
{
    bool tdx = q->tee_type == HTTPA_DCAP_TEE_TDX;
    if (q->version < 5) {
        q->body_kind = tdx ? HTTPA_DCAP_BODY_TD10 : HTTPA_DCAP_BODY_SGX;
        *len = tdx ? HTTPA_DCAP_TD10_BODY_LEN : HTTPA_DCAP_SGX_BODY_LEN;
        return HTTPA_OK;
    }
    uint16_t type;
    uint32_t size;
    if (take_u16(r, &type) || take_u32(r, &size))
        return malformed(d, "v5 body descriptor truncated");
    if (type == V5_BODY_TYPE_SGX && !tdx) {
        q->body_kind = HTTPA_DCAP_BODY_SGX;
        *len = HTTPA_DCAP_SGX_BODY_LEN;
    } else if (type == V5_BODY_TYPE_TD10 && tdx) {
        q->body_kind = HTTPA_DCAP_BODY_TD10;
        *len = HTTPA_DCAP_TD10_BODY_LEN;
    } else if (type == V5_BODY_TYPE_TD15 && tdx) {
        q->body_kind = HTTPA_DCAP_BODY_TD15;
        *len = HTTPA_DCAP_TD15_BODY_LEN;
    } else {
        return dcap_fail(d, HTTPA_DCAP_QUOTE_TEE_UNSUPPORTED, "v5 body type %u for TEE 0x%x",
                         type, (unsigned)q->tee_type);
    }
    if (size != *len)
        return malformed(d, "v5 body size does not match its type");
    return HTTPA_OK;
}

static httpa_err parse_body(httpa_reader *r, httpa_dcap_quote *q, httpa_dcap_diag *d)
{
    size_t len = 0;
    httpa_span body;
    httpa_err e = body_kind(r, q, &len, d);
    if (e != HTTPA_OK)
        return e;
    if (take(r, len, &body) != HTTPA_OK)
        return malformed(d, "report body truncated");
    size_t body_at = (size_t)(body.base - q->signed_part.base);
    bool sgx = q->body_kind == HTTPA_DCAP_BODY_SGX;
    e = sgx ? parse_enclave_report(body, &q->sgx) : parse_td_report(body, &q->td);
    if (e != HTTPA_OK)
        return malformed(d, "report body");
    q->report_data_offset = body_at + (sgx ? SGX_REPORT_DATA_AT : TD_REPORT_DATA_AT);
    /* The attestation key signs everything up to here. */
    q->signed_part.len = (size_t)(r->pos - q->signed_part.base);
    return HTTPA_OK;
}

/* Certification data: u16 type, u32 size, data filling the rest of `r`. */
static httpa_err cert_data(httpa_reader *r, uint16_t want, httpa_span *data, httpa_dcap_diag *d)
{
    uint16_t type;
    uint32_t size;
    if (take_u16(r, &type) || take_u32(r, &size))
        return malformed(d, "certification data header truncated");
    if (type != want)
        return dcap_fail(d, HTTPA_DCAP_CERT_DATA_UNSUPPORTED, "type %u where %u is required",
                         type, want);
    if (take(r, size, data) != HTTPA_OK)
        return malformed(d, "certification data truncated");
    if (httpa_reader_left(r) != 0)
        return malformed(d, "octets after the certification data");
    return HTTPA_OK;
}

/* QE report, its signature, and the QE authentication data. */
static httpa_err parse_qe_block(httpa_reader *r, httpa_dcap_quote *q, httpa_dcap_diag *d)
{
    uint16_t auth_len;
    if (take(r, QE_REPORT_LEN, &q->qe_report_raw) || take_copy(r, q->qe_report_signature, SIG_LEN)
        || take_u16(r, &auth_len) || take(r, auth_len, &q->qe_auth_data))
        return malformed(d, "QE report or QE authentication data truncated");
    if (parse_enclave_report(q->qe_report_raw, &q->qe_report) != HTTPA_OK)
        return malformed(d, "QE report");
    return HTTPA_OK;
}

static httpa_err parse_auth(httpa_reader *r, httpa_dcap_quote *q, httpa_dcap_diag *d)
{
    if (take_copy(r, q->signature, SIG_LEN) || take_copy(r, q->attestation_key, KEY_LEN))
        return malformed(d, "signature or attestation key truncated");
    if (q->version == 3) {
        httpa_err e = parse_qe_block(r, q, d);
        return e != HTTPA_OK ? e : cert_data(r, HTTPA_DCAP_CERT_PCK_CHAIN, &q->pck_chain_pem, d);
    }
    /* v4/v5 wrap the QE block in certification data of type 6. */
    httpa_span outer;
    httpa_err e = cert_data(r, HTTPA_DCAP_CERT_QE_REPORT, &outer, d);
    if (e != HTTPA_OK)
        return e;
    httpa_reader in = httpa_reader_of(outer);
    e = parse_qe_block(&in, q, d);
    return e != HTTPA_OK ? e : cert_data(&in, HTTPA_DCAP_CERT_PCK_CHAIN, &q->pck_chain_pem, d);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

httpa_err httpa_dcap_quote_parse(httpa_span in, httpa_dcap_quote *out, httpa_dcap_diag *diag)
{
    if (out == NULL || (in.base == NULL && in.len != 0))
        return HTTPA_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (in.len > HTTPA_DCAP_QUOTE_MAX)
        return malformed(diag, "quote larger than 64 KiB");
    httpa_reader r = httpa_reader_of(in);
    out->signed_part = HTTPA_SPAN(in.base, 0);
    httpa_err e = parse_header(&r, out, diag);
    if (e == HTTPA_OK)
        e = parse_body(&r, out, diag);
    if (e != HTTPA_OK)
        return e;
    uint32_t sig_len;
    httpa_span sig;
    if (take_u32(&r, &sig_len) || take(&r, sig_len, &sig))
        return malformed(diag, "signature data truncated");
    /* Quote buffers are often handed over zero-padded; anything else
     * after the signature data would be unauthenticated and is refused. */
    if (!all_zero(r.pos, httpa_reader_left(&r)))
        return malformed(diag, "non-zero octets after the signature data");
    httpa_reader sr = httpa_reader_of(sig);
    e = parse_auth(&sr, out, diag);
    if (e == HTTPA_OK && out->pck_chain_pem.len == 0)
        e = malformed(diag, "empty PCK certificate chain");
    if (e == HTTPA_OK && diag != NULL)
        *diag = (httpa_dcap_diag){.reason = HTTPA_DCAP_OK};
    return e;
}

const uint8_t *httpa_dcap_quote_report_data(const httpa_dcap_quote *q)
{
    return q->body_kind == HTTPA_DCAP_BODY_SGX ? q->sgx.report_data : q->td.report_data;
}
