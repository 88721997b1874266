/* Target: httpa_server_handshake
 *
 * The input is a header section, one "name: value" per line ("\n" ends a
 * line, a trailing "\r" is dropped), of an "ATTEST /.well-known/httpa"
 * request. A server with a fixed attested Ed25519 key, a simulated TEE for
 * fresh mode, a client policy for mutual mode and deterministic randomness
 * answers it at the vectors' clock. Any outcome is fine except a crash, a
 * leak, a sanitizer report, or a response that breaks the profile's rules
 * (a binder on an error, an error without Attest-Error). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpa/server.h"
#include "httpa/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

/* Deterministic randomness: a xorshift stream, fresh for every input. */
typedef struct det_rng {
    httpa_rng base;
    uint64_t x;
} det_rng;

static httpa_err det_fill(httpa_rng *self, uint8_t *out, size_t len)
{
    det_rng *r = (det_rng *)self;
    for (size_t i = 0; i < len; i++) {
        r->x ^= r->x << 13;
        r->x ^= r->x >> 7;
        r->x ^= r->x << 17;
        out[i] = (uint8_t)(r->x >> 24);
    }
    return HTTPA_OK;
}

static void add_line(httpa_msg *m, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return;
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    (void)httpa_msg_add(m, p, name_len, v, vlen);
}

static void build_msg(httpa_msg *m, const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        add_line(m, p, n);
        p += n + (nl ? 1 : 0);
    }
}

typedef struct fixture {
    det_rng rng;
    httpa_sim_attester tee;
    httpa_sim_verifier policy;
    httpa_server *s;
} fixture;

static const uint8_t k_sim_seed[32] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
static const uint8_t k_key_seed[32] = {
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f};

/* The attested key with evidence from the simulated TEE. */
static httpa_err add_key(fixture *fx)
{
    uint8_t pub[32], rd[HTTPA_REPORT_DATA_LEN];
    httpa_sign_key *key;
    httpa_buf ev;
    int64_t not_after = NOW + 86400;
    httpa_err e = httpa_sign_key_new(HTTPA_ED25519, k_key_seed, 32, pub, &key);
    if (e != HTTPA_OK)
        return e;
    httpa_buf_init(&ev, 4096);
    e = httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32), not_after, rd);
    if (e == HTTPA_OK)
        e = fx->tee.base.quote(&fx->tee.base, rd, &ev);
    httpa_key_evidence kev = {"sim", "raw", httpa_buf_span(&ev)};
    if (e == HTTPA_OK)
        e = httpa_server_add_key(fx->s, HTTPA_ED25519, key, HTTPA_SPAN(pub, 32), not_after, &kev, 1);
    else
        httpa_sign_key_free(key);
    httpa_buf_free(&ev);
    return e;
}

static httpa_err fixture_init(fixture *fx)
{
    static const uint8_t measurement[32] = "httpa fuzz service image.......";
    memset(fx, 0, sizeof(*fx));
    fx->rng.base.fill = det_fill;
    fx->rng.x = 0x9e3779b97f4a7c15u;
    httpa_err e = httpa_sim_attester_init(&fx->tee, k_sim_seed, measurement, 3, false);
    if (e != HTTPA_OK)
        return e;
    httpa_sim_verifier_init(&fx->policy, fx->tee.pub);
    httpa_server_config cfg = {
        .attester = &fx->tee.base,
        .client_verifier = &fx->policy.base,
        .rng = &fx->rng.base,
    };
    cfg.limits = httpa_limits_default();
    cfg.limits.max_bases = 4;
    e = httpa_server_new(&cfg, &fx->s);
    return e == HTTPA_OK ? add_key(fx) : e;
}

static void fixture_free(fixture *fx)
{
    httpa_server_free(fx->s);
    httpa_sim_attester_clear(&fx->tee);
}

/* The profile's rules for the answer: a 200 with a binder, or an error
 * with Attest-Error and no binder. */
static void check_response(httpa_err e, const httpa_msg *resp)
{
    bool binder = httpa_msg_find(resp, "attest-binder", 13) != NULL;
    bool error = httpa_msg_find(resp, "attest-error", 12) != NULL;
    if (e == HTTPA_OK && (resp->status != 200 || !binder || error))
        __builtin_trap();
    if (e != HTTPA_OK && httpa_err_token(e) != NULL &&
        (binder || !error || resp->status < 400 || resp->status > 599))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18)
        return 0;
    fixture fx;
    if (fixture_init(&fx) != HTTPA_OK) {
        fixture_free(&fx);
        return 0;
    }
    httpa_msg req, resp;
    httpa_buf body;
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    if (httpa_msg_set_request_line(&req, "ATTEST", 6, "/.well-known/httpa", 18) == HTTPA_OK) {
        build_msg(&req, data, size);
        httpa_err e = httpa_server_handshake(fx.s, &req, 0, NOW, &resp, &body);
        check_response(e, &resp);
    }
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
    fixture_free(&fx);
    return 0;
}
