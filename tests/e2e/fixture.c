/* The fixture of the gateway tests (net_gateway_test,
 * net_gateway_dcap_test): an HTTP/1.1 upstream (threads of this process),
 * a gateway child and a client, set up and torn down around every test, so
 * that a failed assertion never leaves a gateway or an upstream behind.
 * Compiled into each test, like harness.c. */
typedef struct fixture {
    e2e_upstream up;
    e2e_gw gw;
    e2e_client cli;
    char upstream_url[64];
} fixture;

static void sleep_for_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || e2e_upstream_start(&f->up) != 0)
        return -1;
    snprintf(f->upstream_url, sizeof(f->upstream_url), "http://127.0.0.1:%d", f->up.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    e2e_client_free(&f->cli);
    if (f->gw.pid > 0 && e2e_gw_stop(&f->gw) != 0)
        rc = -1; /* SIGTERM must end the gateway with status 0 */
    e2e_upstream_stop(&f->up);
    free(f);
    return rc;
}
