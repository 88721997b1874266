/* Target: httpa_client_hs_finish
 *
 * A fixed client handshake (the vectors' client keys, random and offer,
 * attested-key mode; or, when the input starts with a "#mutual" line, the
 * fresh mutual client of vector aths_fresh_mutual) receives a response whose
 * header section is the input, one "name: value" per line; a ":status"
 * line sets the status (default 200). The client verifies it with a sim
 * verifier for the vectors' sim key. Any outcome is fine except a crash, a
 * leak, a sanitizer report, or a base handed out on failure. */
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpa/client.h"
#include "httpa/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000
#define NOW_MUTUAL 1700000100

/* The queued octets of the vectors: client private key, then random. */
typedef struct fixed_rng {
    httpa_rng base;
    const uint8_t *items[2];
    size_t next;
} fixed_rng;

static httpa_err fixed_fill(httpa_rng *self, uint8_t *out, size_t len)
{
    fixed_rng *r = (fixed_rng *)self;
    if (r->next >= 2 || len != 32)
        return HTTPA_ERR_INTERNAL;
    memcpy(out, r->items[r->next++], 32);
    return HTTPA_OK;
}

static const uint8_t k_sim_seed[32] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
static const uint8_t k_sim_pub[32] = {
    0x4f, 0xd0, 0x99, 0xcc, 0xd4, 0x7d, 0x78, 0x93, 0xdf, 0xe9, 0xec, 0x24, 0x41, 0x4e, 0xcb, 0x0d,
    0x9b, 0x54, 0x20, 0x23, 0x2a, 0xad, 0x30, 0xd9, 0x1c, 0x46, 0x5b, 0xe3, 0x3c, 0xbe, 0x65, 0xc4};
static const uint8_t k_client_measurement[32] = {
    0xb5, 0xb2, 0xcf, 0x26, 0x7f, 0xba, 0x94, 0x08, 0xe3, 0x7d, 0x4c, 0x85, 0x24, 0x58, 0x86, 0xe6,
    0xcc, 0x73, 0xbf, 0x0d, 0xbc, 0xf1, 0x8c, 0x23, 0x94, 0x2e, 0xfb, 0x37, 0xd0, 0xeb, 0xd3, 0xdc};
/* aths_attested_key: 00 01 .. 1f and c0 .. cf c0 .. cf */
static const uint8_t k_priv[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t k_random[32] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};
/* aths_fresh_mutual */
static const uint8_t k_mutual_priv[32] = {
    0x7e, 0xbc, 0xb9, 0xd4, 0x94, 0xf7, 0xca, 0x75, 0xf5, 0x19, 0xbb, 0x26, 0xc0, 0x1f, 0x51, 0x69,
    0xf3, 0xb6, 0x28, 0x74, 0x19, 0x1e, 0x91, 0x56, 0x34, 0x7c, 0x01, 0xde, 0x85, 0xd1, 0xec, 0x78};
static const uint8_t k_mutual_random[32] = {
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf};

static int parse_status(const char *v, size_t n)
{
    int s = 0;
    for (size_t i = 0; i < n && i < 3; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 200;
        s = s * 10 + (v[i] - '0');
    }
    return n == 3 && s >= 100 ? s : 200;
}

static void add_line(httpa_msg *m, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    const char *colon = n > 0 ? memchr(p + 1, ':', n - 1) : NULL;
    if (colon == NULL)
        return;
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    if (name_len == 7 && memcmp(p, ":status", 7) == 0)
        m->status = parse_status(v, vlen);
    else if (p[0] != ':')
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
    fixed_rng rng;
    httpa_sim_verifier verifier;
    httpa_sim_attester tee;
    httpa_client_config cfg;
    httpa_msg req;
    httpa_client_hs *hs;
    int64_t now;
} fixture;

static httpa_err fixture_init(fixture *fx, bool mutual)
{
    static const char *const sigs[] = {"ed25519", "ecdsa-p256-sha256", NULL};
    static const char *const suites[] = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", NULL};
    static const char *const groups[] = {"x25519", NULL};
    memset(fx, 0, sizeof(*fx));
    httpa_sim_verifier_init(&fx->verifier, k_sim_pub);
    fx->rng.base.fill = fixed_fill;
    fx->rng.items[0] = mutual ? k_mutual_priv : k_priv;
    fx->rng.items[1] = mutual ? k_mutual_random : k_random;
    fx->cfg = (httpa_client_config){.verifier = &fx->verifier.base, .allow_sim = true,
                                    .rng = &fx->rng.base};
    fx->now = mutual ? NOW_MUTUAL : NOW;
    httpa_msg_init_request(&fx->req);
    if (mutual) {
        httpa_err e = httpa_sim_attester_init(&fx->tee, k_sim_seed, k_client_measurement, 1, false);
        if (e != HTTPA_OK)
            return e;
        fx->cfg.fresh = true;
        fx->cfg.suites = suites;
        fx->cfg.groups = groups;
        fx->cfg.attester = &fx->tee.base;
    } else {
        fx->cfg.transport_field = true;
        fx->cfg.sig_algs = sigs;
        fx->cfg.policies_explicit = true;
        fx->cfg.base_creation = "shared";
    }
    return httpa_client_hs_start(&fx->cfg, fx->now, &fx->req, &fx->hs);
}

static void fixture_free(fixture *fx)
{
    httpa_client_hs_free(fx->hs);
    httpa_msg_free(&fx->req);
    if (fx->tee.key != NULL)
        httpa_sim_attester_clear(&fx->tee);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1u << 18)
        return 0;
    bool mutual = size >= 7 && memcmp(data, "#mutual", 7) == 0;
    fixture fx;
    if (fixture_init(&fx, mutual) != HTTPA_OK) {
        fixture_free(&fx);
        return 0;
    }
    httpa_msg resp;
    httpa_msg_init_response(&resp, 200);
    build_msg(&resp, data, size);
    httpa_client_base *b = NULL;
    httpa_err e = httpa_client_hs_finish(fx.hs, &resp, HTTPA_SPAN("", 0), fx.now, &b);
    if ((e == HTTPA_OK) != (b != NULL))
        __builtin_trap();
    if (b != NULL) {
        const char *const *names;
        const httpa_span *values;
        size_t n = httpa_client_base_secrets(b, &names, &values);
        for (size_t i = 0; i < n; i++)
            if (names[i] == NULL || (values[i].len != 0 && values[i].base == NULL))
                __builtin_trap();
        if (httpa_client_base_id(b) == NULL || httpa_client_base_suite(b) == NULL)
            __builtin_trap();
    }
    httpa_client_base_release(b);
    httpa_msg_free(&resp);
    fixture_free(&fx);
    return 0;
}
