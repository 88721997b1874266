/* Two httpa-gateway instances behind HAProxy with the tested configuration
 * docs/examples/haproxy-httpa.cfg (TLS termination, round robin, stick table
 * learned from the AtHS response): every AtSP and TrT of an Attest Base must
 * reach the instance that ran its handshake.
 *
 * The clients (the client library, in threads of this process) never retry
 * (max_attempts 1), so a request routed to the wrong instance would fail
 * with unknown_base instead of being hidden by a new handshake; and each
 * gateway's access log shows which Attest Bases it served. HAProxy is
 * /usr/sbin/haproxy or $HTTPA_HAPROXY; without it the test is skipped. */
#define _DEFAULT_SOURCE /* wait4 (e2e/proxy.c): the peak RSS of one child */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "e2e/e2e.h"
#include "e2e/proxy.h"
#include "httpa/curl.h"
#include "httpa/sim.h"

#include "e2e/harness.c"
#include "e2e/proxy.c"

#define NCLIENTS 24
#define NREQUESTS 6 /* per client, after its handshake */

typedef struct stack {
    char dir[64];
    char cert[128], pem[128];
    px_child app;
    e2e_gw gw[2];
    px_proxy haproxy;
    char url[64];
} stack;

static int setup(void **state)
{
    stack *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    strcpy(s->dir, "/tmp/httpa-haproxy-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    snprintf(s->cert, sizeof(s->cert), "%s/cert.pem", s->dir);
    snprintf(s->pem, sizeof(s->pem), "%s/site.pem", s->dir);
    if (!px_make_cert(s->cert, NULL, s->pem))
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    stack *s = *state;
    int rc = 0;
    px_proxy_stop(&s->haproxy);
    for (int i = 0; i < 2; i++)
        if (s->gw[i].pid > 0 && e2e_gw_stop(&s->gw[i]) != 0)
            rc = -1;
    px_stop(&s->app.pid, SIGTERM, 5000);
    px_rmtree(s->dir);
    free(s);
    return rc;
}

typedef struct client {
    const stack *s;
    httpa_sim_verifier verifier;
    httpa_curl_client *c;
    size_t id;
    char base_id[40];
    int ok;
    char error[300];
} client;

static httpa_err discard(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return HTTPA_OK;
}

static void *client_main(void *arg)
{
    client *cl = arg;
    httpa_curl_resp resp;
    httpa_curl_resp_init(&resp);
    for (int n = 0; n <= NREQUESTS; n++) {
        char url[160];
        snprintf(url, sizeof(url), "%s/c/%zu/%d", cl->s->url, cl->id, n);
        static const char *const names[] = {"k"};
        const httpa_span values[] = {HTTPA_SPAN_STR("v")};
        httpa_curl_req req = {.url = url, .write = discard};
        if (n == 1) { /* one AtSP per base too */
            req.secret_names = names;
            req.secret_values = values;
            req.nsecrets = 1;
        }
        httpa_err e = httpa_curl_request(cl->c, &req, &resp);
        if (e != HTTPA_OK || resp.status != 200 || resp.handshake != (n == 0) ||
            (cl->base_id[0] != '\0' && strcmp(cl->base_id, resp.attestation.base_id) != 0)) {
            snprintf(cl->error, sizeof(cl->error), "request %d: %s, status %d, handshake %d: %s", n,
                     httpa_err_name(e), resp.status, resp.handshake, resp.message);
            break;
        }
        snprintf(cl->base_id, sizeof(cl->base_id), "%s", resp.attestation.base_id);
        cl->ok++;
    }
    httpa_curl_resp_free(&resp);
    return NULL;
}

static void test_every_trt_reaches_its_handshake_instance(void **state)
{
    stack *s = *state;
    if (px_haproxy_path() == NULL) {
        fprintf(stderr, "net_haproxy: SKIPPED: haproxy not found at /usr/sbin/haproxy (or "
                        "$HTTPA_HAPROXY); install haproxy (scripts/install-deps.sh)\n");
        skip();
    }
    char upstream[64], gw[2][32];
    assert_int_equal(px_app_start(&s->app, s->dir, NULL), 0);
    snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%d", s->app.port);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(e2e_gw_start(&s->gw[i], upstream, NULL), 0);
        snprintf(gw[i], sizeof(gw[i]), "127.0.0.1:%d", s->gw[i].port);
    }
    assert_int_equal(px_haproxy_start(&s->haproxy, s->dir, s->pem, gw[0], gw[1]), 0);
    snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->haproxy.port);

    client *cl = calloc(NCLIENTS, sizeof(*cl));
    pthread_t tids[NCLIENTS];
    for (size_t i = 0; i < NCLIENTS; i++) {
        cl[i].s = s;
        cl[i].id = i;
        httpa_sim_verifier_init(&cl[i].verifier, s->gw[0].pub); /* both use the test's seed */
        httpa_curl_config cfg = {.engine = {.verifier = &cl[i].verifier.base, .allow_sim = true},
                                 .http = i % 2 ? HTTPA_CURL_HTTP_1_1 : HTTPA_CURL_HTTP_2_TLS,
                                 .cafile = s->cert, .max_attempts = 1, .timeout_ms = 30000};
        assert_int_equal(httpa_curl_client_new(&cfg, &cl[i].c), HTTPA_OK);
        assert_int_equal(pthread_create(&tids[i], NULL, client_main, &cl[i]), 0);
    }
    for (size_t i = 0; i < NCLIENTS; i++)
        pthread_join(tids[i], NULL);

    /* each gateway's log: which bases it handled, and how */
    char *log[2], path[2][128];
    size_t total = 0, want = NCLIENTS * (NREQUESTS + 3);
    for (int i = 0; i < 2; i++)
        snprintf(path[i], sizeof(path[i]), "%s/access.log", s->gw[i].dir);
    /* a log line is written as its request ends, maybe just after the answer */
    for (int t = 0; t < 250 && total < want; t++) {
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
        total = 0;
        for (int i = 0; i < 2; i++) {
            char *l = px_read_file(path[i], NULL);
            total += l != NULL ? px_count(l, "\"event\":\"access\"") : 0;
            free(l);
        }
    }
    for (int i = 0; i < 2; i++) {
        log[i] = px_read_file(path[i], NULL);
        assert_non_null(log[i]);
    }
    size_t bases[2] = {0, 0};
    for (size_t i = 0; i < NCLIENTS; i++) {
        if (cl[i].ok != NREQUESTS + 1)
            fail_msg("client %zu: %s", i, cl[i].error);
        char needle[80];
        snprintf(needle, sizeof(needle), "\"base_id\":\"%s\"", cl[i].base_id);
        size_t n0 = px_count(log[0], needle), n1 = px_count(log[1], needle);
        /* AtHS, AtSP and the NREQUESTS + 1 TrTs: all on one instance, none on the other */
        if (!((n0 == NREQUESTS + 3 && n1 == 0) || (n1 == NREQUESTS + 3 && n0 == 0)))
            fail_msg("base %s: %zu requests on gateway 0, %zu on gateway 1", cl[i].base_id, n0, n1);
        bases[n0 != 0 ? 0 : 1]++;
    }
    print_message("%d Attest Bases through HAProxy: %zu on gateway 0, %zu on gateway 1, "
                  "%d requests each, all on the instance of their handshake\n",
                  NCLIENTS, bases[0], bases[1], NREQUESTS + 3);
    assert_true(bases[0] > 0 && bases[1] > 0); /* round robin spread the handshakes */
    for (int i = 0; i < 2; i++)
        assert_int_equal(px_count(log[i], "\"error\":\"unknown_base\""), 0);
    for (int i = 0; i < 2; i++)
        free(log[i]);
    for (size_t i = 0; i < NCLIENTS; i++)
        httpa_curl_client_free(cl[i].c);
    free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_trt_reaches_its_handshake_instance, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("net_haproxy", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
