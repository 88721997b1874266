/* httpa-demo: an HTTPA/2 client and server in one process, with no network.
 *
 * It runs the four transactions (Preflight, Attest Handshake, Attest Secret
 * Provisioning, Trusted Transactions) through the libhttpa engine and prints
 * what each side sends, what a middlebox on the path could read, and what
 * the application finally receives. The TEE is SIMULATED. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpa/client.h"
#include "httpa/server.h"
#include "httpa/sim.h"

typedef struct demo {
    bool quiet;
    int64_t now;
    httpa_sim_attester tee;      /* the server's simulated TEE */
    httpa_sim_verifier verifier; /* the client's policy: this sim key only */
    httpa_server *server;
    httpa_client_base *base;
} demo;

static void die(const char *what, httpa_err e)
{
    fprintf(stderr, "httpa-demo: %s: %s (%s)\n", what, httpa_strerror(e), httpa_err_name(e));
    exit(1);
}

#define CHECK(what, call)            \
    do {                             \
        httpa_err e_ = (call);       \
        if (e_ != HTTPA_OK)          \
            die(what, e_);           \
    } while (0)

/* Long values (evidence, Cargo) are cut for display. */
static void show_msg(const demo *d, const char *who, const httpa_msg *m)
{
    if (d->quiet)
        return;
    if (m->is_response)
        printf("  %s HTTP/1.1 %d\n", who, m->status);
    else
        printf("  %s %s %s HTTP/1.1\n", who, m->method, m->target);
    for (size_t i = 0; i < m->nheaders; i++) {
        const httpa_header *h = &m->headers[i];
        int n = h->value_len > 72 ? 72 : (int)h->value_len;
        printf("  %s   %s: %.*s%s%s\n", who, h->name, n, h->value, h->value_len > 72 ? "..." : "",
               h->sealed ? "   [sealed: confidential, authenticated]" : "");
    }
}

__attribute__((format(printf, 2, 3))) static void say(const demo *d, const char *fmt, ...)
{
    va_list ap;
    if (d->quiet)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static void setup(demo *d)
{
    static const uint8_t measurement[32] = "httpa-demo service image v1....";
    uint8_t pub[32], report_data[HTTPA_REPORT_DATA_LEN];
    httpa_sign_key *key;
    httpa_buf ev;

    CHECK("simulated TEE", httpa_sim_attester_init(&d->tee, NULL, measurement, 1, false));
    httpa_sim_verifier_init(&d->verifier, d->tee.pub);

    httpa_server_config cfg = {.attester = &d->tee.base};
    CHECK("server", httpa_server_new(&cfg, &d->server));

    /* The attested handshake key: evidence binds it once, each AtHS signs. */
    int64_t not_after = d->now + 86400;
    CHECK("key", httpa_sign_key_new(HTTPA_ED25519, NULL, 0, pub, &key));
    CHECK("report_data", httpa_attested_key_report_data(HTTPA_ED25519, HTTPA_SPAN(pub, 32),
                                                        not_after, report_data));
    httpa_buf_init(&ev, 65536);
    CHECK("quote", d->tee.base.quote(&d->tee.base, report_data, &ev));
    httpa_key_evidence kev = {"sim", "raw", httpa_buf_span(&ev)};
    CHECK("add key", httpa_server_add_key(d->server, HTTPA_ED25519, key, HTTPA_SPAN(pub, 32),
                                          not_after, &kev, 1));
    httpa_buf_free(&ev);
}

static void preflight(demo *d)
{
    httpa_msg req, resp;
    httpa_buf body;
    say(d, "\n== 1. Preflight (OPTIONS): may this client use ATTEST here?");
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 4096);
    CHECK("request", httpa_msg_set_request_line(&req, "OPTIONS", 7, "/.well-known/httpa", 18));
    CHECK("field", httpa_msg_add_str(&req, "Access-Control-Request-Method", "ATTEST"));
    show_msg(d, "client >", &req);
    CHECK("preflight", httpa_server_preflight(d->server, &req, true, &resp, &body));
    show_msg(d, "server <", &resp);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

static void handshake(demo *d)
{
    httpa_client_config cfg = {.verifier = &d->verifier.base, .allow_sim = true};
    httpa_client_hs *hs;
    httpa_msg req, resp;
    httpa_buf body;

    say(d, "\n== 2. Attest Handshake (ATTEST): key exchange + evidence of the TEE");
    httpa_msg_init_request(&req);
    httpa_msg_init_response(&resp, 0);
    httpa_buf_init(&body, 65536);
    CHECK("AtHS request", httpa_client_hs_start(&cfg, d->now, &req, &hs));
    show_msg(d, "client >", &req);
    CHECK("AtHS", httpa_server_handshake(d->server, &req, 0, d->now, &resp, &body));
    show_msg(d, "server <", &resp);
    CHECK("AtHS verification", httpa_client_hs_finish(hs, &resp, httpa_buf_span(&body), d->now,
                                                      &d->base));
    const httpa_appraisal *a = httpa_client_base_appraisal(d->base);
    say(d, "  client: evidence verified (TCB status %s), signature and binder verified", a->tcb_status);
    say(d, "  client: Attest Base %s established", httpa_client_base_id(d->base));
    say(d, "  client: cipher suite %s", httpa_client_base_suite(d->base));
    httpa_client_hs_free(hs);
    httpa_msg_free(&req);
    httpa_msg_free(&resp);
    httpa_buf_free(&body);
}

/* Provisioned secrets reach the application; the demo shows names and sizes. */
static void show_secrets(const demo *d, const httpa_server_txn *st)
{
    const char *const *names;
    const httpa_span *values;
    size_t n = httpa_server_txn_secrets(st, &names, &values);
    for (size_t i = 0; i < n && !d->quiet; i++)
        printf("  app    <   secret %s: %zu octets, provisioned into the Attest Base\n", names[i],
               values[i].len);
}

/* One protected exchange: the client protects `req`, the server opens it and
 * hands the restored request to the "application", which answers `reply`. */
static void exchange(demo *d, httpa_msg *req, const char *req_body, const httpa_seal_opts *opts,
                     const char *reply)
{
    httpa_client_txn *ct;
    httpa_server_txn *st;
    httpa_msg resp;
    httpa_buf wire, plain, rwire, rplain;
    size_t req_len = req_body ? strlen(req_body) : 0;

    httpa_buf_init(&wire, 1 << 20);
    httpa_buf_init_sensitive(&plain, 1 << 20);
    httpa_buf_init(&rwire, 1 << 20);
    httpa_buf_init_sensitive(&rplain, 1 << 20);
    httpa_msg_init_response(&resp, 0);

    httpa_seal_opts o = *opts;
    o.has_body = req_body != NULL;
    o.content_length = req_len;
    CHECK("protect", httpa_client_protect(d->base, req, &o, &ct));
    CHECK("seal body", httpa_client_txn_seal(ct, HTTPA_SPAN(req_body, req_len), true, &wire));
    say(d, "  -- on the wire (what a TLS-terminating middlebox can read):");
    show_msg(d, "client >", req);
    if (!d->quiet && wire.len)
        printf("  client >   <%zu octets of AEAD records>\n", wire.len);

    CHECK("open", httpa_server_open(d->server, req, d->now, &st, &resp, &rplain));
    CHECK("open body", httpa_server_txn_body(st, httpa_buf_span(&wire), true, &plain));
    say(d, "  -- what the application inside the TEE receives:");
    show_msg(d, "app    <", req);
    if (!d->quiet && plain.len)
        printf("  app    <   body: %.*s\n", (int)plain.len, (const char *)plain.base);
    show_secrets(d, st);

    /* The application's answer, protected on its way back. */
    httpa_msg_free(&resp);
    httpa_msg_init_response(&resp, 200);
    CHECK("field", httpa_msg_add_str(&resp, "Content-Type", "application/json"));
    CHECK("field", httpa_msg_add_str(&resp, "Set-Cookie", "session=7f3a; Secure; HttpOnly"));
    httpa_seal_opts ro = {.has_body = true, .content_length = strlen(reply)};
    CHECK("respond", httpa_server_txn_respond(st, &resp, &ro));
    httpa_buf_reset(&rwire);
    CHECK("seal reply", httpa_server_txn_seal(st, HTTPA_SPAN(reply, strlen(reply)), true, &rwire));
    show_msg(d, "server <", &resp);
    httpa_server_txn_free(st);

    httpa_buf_reset(&rplain);
    CHECK("response", httpa_client_txn_response(ct, &resp));
    CHECK("response body", httpa_client_txn_body(ct, httpa_buf_span(&rwire), true, &rplain));
    say(d, "  -- what the client application receives (binder verified):");
    show_msg(d, "client <", &resp);
    if (!d->quiet)
        printf("  client <   body: %.*s\n", (int)rplain.len, (const char *)rplain.base);

    httpa_client_txn_free(ct);
    httpa_msg_free(&resp);
    httpa_buf_free(&wire);
    httpa_buf_free(&plain);
    httpa_buf_free(&rwire);
    httpa_buf_free(&rplain);
}

static void provision(demo *d)
{
    static const char *const names[] = {"db-key"};
    const httpa_span values[] = {HTTPA_SPAN_STR("correct horse battery staple")};
    httpa_seal_opts opts = {.secret_names = names, .secret_values = values, .nsecrets = 1};
    httpa_msg req;

    say(d, "\n== 3. Attest Secret Provisioning (ATTEST + Attest-Secrets)");
    httpa_msg_init_request(&req);
    CHECK("request", httpa_msg_set_request_line(&req, "ATTEST", 6, "/.well-known/httpa", 18));
    exchange(d, &req, NULL, &opts, "{\"provisioned\":1}");
    httpa_msg_free(&req);
}

static void trusted(demo *d)
{
    static const char *const seal[] = {"x-tenant", NULL};
    httpa_msg req;

    say(d, "\n== 4. Trusted Transaction: POST with sealed target and headers");
    httpa_msg_init_request(&req);
    CHECK("request", httpa_msg_set_request_line(&req, "POST", 4, "/api/orders?id=42", 17));
    CHECK("field", httpa_msg_add_str(&req, "Authorization", "Bearer demo-token-7f3a"));
    CHECK("field", httpa_msg_add_str(&req, "X-Tenant", "acme"));
    CHECK("field", httpa_msg_add_str(&req, "Content-Type", "application/json"));
    CHECK("field", httpa_msg_add_str(&req, "User-Agent", "httpa-demo/1"));
    httpa_seal_opts opts = {.seal = seal, .hide_target = true};
    exchange(d, &req, "{\"card\":\"4111 1111 1111 1111\",\"amount\":42}", &opts,
             "{\"order\":42,\"status\":\"accepted\"}");
    httpa_msg_free(&req);

    say(d, "\n== 5. Trusted Transaction: GET that ends the Attest Base");
    httpa_msg_init_request(&req);
    CHECK("request", httpa_msg_set_request_line(&req, "GET", 3, "/api/orders/42", 14));
    httpa_seal_opts end = {.terminate = true};
    exchange(d, &req, NULL, &end, "{\"order\":42,\"status\":\"shipped\"}");
    httpa_msg_free(&req);
}

int main(int argc, char **argv)
{
    demo d = {.now = (int64_t)time(NULL)};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) {
            d.quiet = true;
        } else {
            printf("usage: httpa-demo [--quiet]\n\n"
                   "Runs an HTTPA/2 client and server in one process (no network) through\n"
                   "Preflight, Attest Handshake, Attest Secret Provisioning and Trusted\n"
                   "Transactions, printing what each side and a middlebox see.\n"
                   "The TEE is SIMULATED: its evidence proves nothing about hardware.\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    fprintf(stderr, "httpa-demo: WARNING: the TEE is SIMULATED (sim evidence); it proves "
                    "nothing about hardware and is accepted only because this demo allows it.\n");
    setup(&d);
    preflight(&d);
    handshake(&d);
    provision(&d);
    trusted(&d);
    httpa_client_base_release(d.base);
    httpa_server_free(d.server);
    httpa_sim_attester_clear(&d.tee);
    say(&d, "\nhttpa-demo: all transactions verified.");
    return 0;
}
