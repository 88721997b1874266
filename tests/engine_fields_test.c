/* Attest-* field parsing (profile 4.1, table 4.2) and the AHL (section 5),
 * against the profile vectors and hand-made negative cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "engine/fields.h"
#include "httpa/limits.h"
#include "httpa/msg.h"

/* ---- helpers --------------------------------------------------------- */

static void msg_add_line(httpa_msg *m, const char *name, const char *value)
{
    assert_int_equal(httpa_msg_add_str(m, name, value), HTTPA_OK);
}

static void msg_attest_request(httpa_msg *m)
{
    httpa_msg_init_request(m);
    assert_int_equal(httpa_msg_set_request_line(m, "ATTEST", 6, "/", 1), HTTPA_OK);
}

/* A message object of the vectors: method/target or status, and headers as
 * [name, value] pairs in the order sent. */
static void msg_from_json(json_t *o, httpa_msg *m)
{
    json_t *status = json_object_get(o, "status");
    if (status != NULL) {
        httpa_msg_init_response(m, (int)json_integer_value(status));
    } else {
        const char *method = tl_str(o, "method"), *target = tl_str(o, "target");
        httpa_msg_init_request(m);
        assert_int_equal(httpa_msg_set_request_line(m, method, strlen(method), target,
                                                    strlen(target)),
                         HTTPA_OK);
    }
    json_t *headers = tl_get(o, "headers");
    size_t i;
    json_t *pair;
    json_array_foreach(headers, i, pair) {
        assert_true(json_is_array(pair) && json_array_size(pair) == 2);
        msg_add_line(m, json_string_value(json_array_get(pair, 0)),
                     json_string_value(json_array_get(pair, 1)));
    }
}

/* Parse the fields of `m` and check both AHLs against hex (either may be NULL). */
static void check_ahls(const httpa_msg *m, const char *core_hex, const char *full_hex)
{
    httpa_fields f;
    assert_int_equal(httpa_fields_parse(m, NULL, &f), HTTPA_OK);
    const char *hexes[2] = {core_hex, full_hex};
    const httpa_ahl_set sets[2] = {HTTPA_X_CORE, HTTPA_X_FULL};
    for (int i = 0; i < 2; i++) {
        if (hexes[i] == NULL)
            continue;
        httpa_buf got, want = tl_hex(hexes[i]);
        httpa_buf_init(&got, 1u << 20);
        assert_int_equal(httpa_ahl_build(m, &f, sets[i], &got), HTTPA_OK);
        tl_assert_bytes(got.base, got.len, want.base, want.len);
        httpa_buf_free(&got);
        httpa_buf_free(&want);
    }
    httpa_fields_free(&f);
}

/* Parse a request carrying `name` with the given lines; returns the error. */
static httpa_err parse_lines(const char *name, const char *const *lines, size_t n,
                             const httpa_limits *lim, httpa_fields *f)
{
    httpa_msg m;
    msg_attest_request(&m);
    for (size_t i = 0; i < n; i++)
        msg_add_line(&m, name, lines[i]);
    httpa_err e = httpa_fields_parse(&m, lim, f);
    httpa_msg_free(&m);
    return e;
}

static httpa_err parse_one(const char *name, const char *value)
{
    httpa_fields f;
    httpa_err e = parse_lines(name, &value, 1, NULL, &f);
    httpa_fields_free(&f);
    return e;
}

static int fid_of(const char *name)
{
    for (int i = 0; i < HTTPA_F__COUNT; i++) {
        if (strcmp(httpa_fid_name((httpa_fid)i), name) == 0)
            return i;
    }
    return -1;
}

/* The canonical value the AHL would carry for `name`, or NULL if absent. */
static const httpa_buf *canon_of(const httpa_fields *f, const char *name)
{
    int id = fid_of(name);
    if (id >= 0)
        return httpa_fields_has(f, (httpa_fid)id) ? &f->canon[id] : NULL;
    for (size_t i = 0; i < f->nunknown; i++) {
        if (strcmp(f->unknown[i].name, name) == 0)
            return &f->unknown[i].value;
    }
    return NULL;
}

/* ---- vectors --------------------------------------------------------- */

static void test_sf_canonicalization_vectors(void **state)
{
    (void)state;
    json_t *cases = tl_get(tl_vectors(), "sf_canonicalization");
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *field = tl_str(c, "field");
        json_t *lines = tl_get(c, "lines"), *canon = tl_get(c, "canonical");
        httpa_msg m;
        msg_attest_request(&m);
        size_t k;
        json_t *line;
        json_array_foreach(lines, k, line) msg_add_line(&m, field, json_string_value(line));
        httpa_fields f;
        httpa_err e = httpa_fields_parse(&m, NULL, &f);
        if (json_is_null(canon)) {
            const char *tok = tl_str(c, "expected_error");
            if (e != httpa_err_from_token(tok, strlen(tok)))
                fail_msg("case %zu (%s): got %s, want %s", i, field, httpa_err_name(e), tok);
        } else {
            if (e != HTTPA_OK)
                fail_msg("case %zu (%s): %s", i, field, httpa_err_name(e));
            const httpa_buf *v = canon_of(&f, field);
            assert_non_null(v);
            const char *want = json_string_value(canon);
            tl_assert_bytes(v->base, v->len, want, strlen(want));
        }
        httpa_fields_free(&f);
        httpa_msg_free(&m);
        n++;
    }
    assert_true(n >= 12);
    printf("sf_canonicalization: %zu checked\n", n);
}

static void test_ahl_example(void **state)
{
    (void)state;
    json_t *ex = tl_get(tl_vectors(), "ahl_example");
    httpa_msg m;
    msg_from_json(tl_get(ex, "request"), &m);
    check_ahls(&m, tl_str(ex, "ahl_core_hex"), tl_str(ex, "ahl_full_hex"));
    httpa_msg_free(&m);
}

static json_t *at_path(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *p = strtok_r(buf, ".", &save); p; p = strtok_r(NULL, ".", &save))
        o = tl_get(o, p);
    return o;
}

static const char *str_or_null(json_t *root, const char *path)
{
    return path ? json_string_value(at_path(root, path)) : NULL;
}

static void test_ahl_of_real_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *core, *full;
    } cases[] = {
        {"aths_attested_key.request", "aths_attested_key.ahl_request_core_hex",
         "aths_attested_key.ahl_request_full_hex"},
        {"aths_attested_key.response", "aths_attested_key.ahl_response_core_hex",
         "aths_attested_key.aths_binder.ahl_response_full_hex"},
        {"aths_fresh_mutual.request", "aths_fresh_mutual.ahl_request_core_hex",
         "aths_fresh_mutual.ahl_request_full_hex"},
        {"aths_fresh_mutual.response", "aths_fresh_mutual.ahl_response_core_hex",
         "aths_fresh_mutual.aths_binder.ahl_response_full_hex"},
        {"atsp.request.message", "atsp.request.ahl_core_hex", "atsp.request.ahl_full_hex"},
        {"atsp.response.message", "atsp.response.ahl_core_hex", "atsp.response.ahl_full_hex"},
        {"trt_1.request.message", "trt_1.request.ahl_core_hex", "trt_1.request.ahl_full_hex"},
        {"trt_1.response.message", "trt_1.response.ahl_core_hex", "trt_1.response.ahl_full_hex"},
        {"trt_2.request.message", "trt_2.request.ahl_core_hex", "trt_2.request.ahl_full_hex"},
        {"trt_2.response.message", "trt_2.response.ahl_core_hex", "trt_2.response.ahl_full_hex"},
    };
    json_t *v = tl_vectors();
    size_t n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        httpa_msg m;
        msg_from_json(at_path(v, cases[i].msg), &m);
        const char *core = str_or_null(v, cases[i].core), *full = str_or_null(v, cases[i].full);
        check_ahls(&m, core, full);
        n += (core != NULL) + (full != NULL);
        httpa_msg_free(&m);
    }
    /* The example too, counted with the others. */
    n += 2;
    assert_int_equal(n, 22);
    printf("AHL vectors: %zu checked\n", n);
}

/* Every message of the negative vectors still has well-formed fields
 * (their faults are cryptographic or semantic), so they parse and give AHLs. */
static void test_negative_vector_messages_parse(void **state)
{
    (void)state;
    json_t *neg = tl_get(tl_vectors(), "negative");
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(neg, i, c) {
        json_t *o = json_object_get(c, "message");
        if (o == NULL)
            continue;
        httpa_msg m;
        msg_from_json(o, &m);
        httpa_fields f;
        httpa_err e = httpa_fields_parse(&m, NULL, &f);
        if (e != HTTPA_OK)
            fail_msg("negative %s: %s", tl_str(c, "name"), httpa_err_name(e));
        httpa_buf out;
        httpa_buf_init(&out, 1u << 20);
        assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_FULL, &out), HTTPA_OK);
        httpa_buf_free(&out);
        httpa_fields_free(&f);
        httpa_msg_free(&m);
        n++;
    }
    assert_true(n > 0);
}

/* ---- negative unit tests --------------------------------------------- */

static void test_wrong_member_types(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"Attest-Expires", "3600.0"},          /* Decimal, not Integer */
        {"Attest-Expires", "\"3600\""},
        {"Attest-Date", "?1"},
        {"Attest-Version", "\"httpa/2\""},     /* String, not Token */
        {"Attest-Versions", "httpa/2, 2"},
        {"Attest-Versions", "(httpa/2)"},      /* inner list in a List of Token */
        {"Attest-Base-ID", "abc"},             /* Token, not String */
        {"Attest-Blocklist", "tok"},
        {"Attest-Cargo", "\"AAAA\""},
        {"Attest-Key-Shares", "x25519"},       /* Boolean true, not Byte Sequence */
        {"Attest-Key-Shares", "x25519=(:AA==:)"},
        {"Attest-Secrets", "a=1"},
        {"Attest-Date", "1, 2"},               /* a List where an Item is due */
        {"Attest-Policies", "(a b)"},          /* not a Dictionary */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        httpa_err e = parse_one(bad[i].name, bad[i].value);
        if (e != HTTPA_ERR_BAD_REQUEST)
            fail_msg("%s: %s -> %s", bad[i].name, bad[i].value, httpa_err_name(e));
    }
}

static void test_empty_list_or_dict(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Versions", ""), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", ""), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Secrets", "   "), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Date", ""), HTTPA_ERR_BAD_REQUEST);
}

static void test_non_canonical_base64(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Cargo", ":AA==:"), HTTPA_OK);
    assert_int_equal(parse_one("Attest-Cargo", ":AA:"), HTTPA_ERR_BAD_REQUEST);   /* no padding */
    assert_int_equal(parse_one("Attest-Cargo", ":AB==:"), HTTPA_ERR_BAD_REQUEST); /* pad bits */
    assert_int_equal(parse_one("Attest-Cargo", ":A-_=:"), HTTPA_ERR_BAD_REQUEST); /* url alphabet */
    assert_int_equal(
        parse_one("Attest-Random", ":wMHCw8TFxsfIycrLzM3Oz8DBwsPExcbHyMnKy8zNzs8:"),
        HTTPA_ERR_BAD_REQUEST);
}

static void test_date_and_display_string_refused(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Date", "@1700000000"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Blocklist", "%\"x\""), HTTPA_ERR_BAD_REQUEST);
    /* Also where the member type is otherwise free: parameters, unknown policies. */
    assert_int_equal(parse_one("Attest-Versions", "httpa/2;d=@1"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", "x=@1"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", "x=(a %\"b\")"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "(sim :AA==:);when=@1"), HTTPA_ERR_BAD_REQUEST);
}

static void test_duplicate_names(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Secrets", "a=:AA==:, a=:AQ==:"), HTTPA_ERR_BAD_REQUEST);
    const char *const two[] = {"a=:AA==:", "b=:AA==:, a=:AQ==:"};
    httpa_fields f;
    assert_int_equal(parse_lines("Attest-Secrets", two, 2, NULL, &f), HTTPA_ERR_BAD_REQUEST);
    httpa_fields_free(&f);
    assert_int_equal(parse_one("Attest-Secrets", "a=:AA==:, b=:AQ==:"), HTTPA_OK);
    assert_int_equal(parse_one("Attest-Key-Share", "x25519=:AA==:, x25519=:AQ==:"),
                     HTTPA_ERR_BAD_REQUEST);
    /* The server's share: exactly one member. */
    assert_int_equal(parse_one("Attest-Key-Share", "x25519=:AA==:, p=:AQ==:"),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Key-Share", "x25519=:AA==:"), HTTPA_OK);
    /* The client's shares: the vector keeps the last value (RFC 9651). */
    assert_int_equal(parse_one("Attest-Key-Shares", "x25519=:AA==:, x25519=:AQ==:"), HTTPA_OK);
}

static void test_quotes_shape(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Quotes", "(sim :AA==:);format=raw, (tdx :AQ==:)"),
                     HTTPA_OK);
    assert_int_equal(parse_one("Attest-Quotes", "(sim :AA==: :AA==:)"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "(sim)"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "(:AA==: sim)"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "(\"sim\" :AA==:)"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "sim"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Quotes", "(sim :AA==:), :AA==:"), HTTPA_ERR_BAD_REQUEST);
}

static void test_policies_members(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Policies", "direct, allow-untrusted=?0, fresh"), HTTPA_OK);
    assert_int_equal(parse_one("Attest-Policies", "fresh=1"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", "fresh=yes"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", "direct=\"?1\""), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Policies", "allow-untrusted=(?1)"), HTTPA_ERR_BAD_REQUEST);
    /* Unknown members may be anything (but Date and Display String). */
    assert_int_equal(parse_one("Attest-Policies", "x=1, y=(a b), z=:AA==:, fresh;p=1"), HTTPA_OK);
}

static void test_oversize_values(void **state)
{
    (void)state;
    httpa_limits lim = httpa_limits_default();
    size_t n = lim.max_field_value + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    httpa_fields f;
    const char *one[] = {big};
    assert_int_equal(parse_lines("Attest-Versions", one, 1, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);
    assert_int_equal(parse_lines("Attest-X-Unknown", one, 1, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);

    /* Two lines each within the bound whose combination is not. */
    big[n / 2] = '\0';
    const char *halves[] = {big, big};
    assert_int_equal(parse_lines("Attest-Versions", halves, 2, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);

    /* Fields each within the bound whose sum exceeds max_attest_fields. */
    lim.max_attest_fields = lim.max_field_value + 100;
    httpa_msg m;
    msg_attest_request(&m);
    msg_add_line(&m, "Attest-X-A", big);
    msg_add_line(&m, "Attest-X-B", big);
    msg_add_line(&m, "Attest-X-C", big);
    assert_int_equal(httpa_fields_parse(&m, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);
    httpa_msg_free(&m);
    free(big);

    /* Too many members. */
    lim = httpa_limits_default();
    lim.max_sf_members = 3;
    const char *four[] = {"a, b, c, d"};
    assert_int_equal(parse_lines("Attest-Versions", four, 1, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);
    const char *three[] = {"a, b, c"};
    assert_int_equal(parse_lines("Attest-Versions", three, 1, &lim, &f), HTTPA_OK);
    httpa_fields_free(&f);

    /* Too many field lines. */
    lim = httpa_limits_default();
    lim.max_field_lines = 2;
    const char *lines3[] = {"a", "b", "c"};
    assert_int_equal(parse_lines("Attest-Versions", lines3, 3, &lim, &f), HTTPA_ERR_TOO_LARGE);
    httpa_fields_free(&f);
}

static void test_base_id_valid(void **state)
{
    (void)state;
#define BID(s) httpa_base_id_valid((const uint8_t *)(s), strlen(s))
    assert_true(BID("6f1c9e0a-3b2d-4c5e-8f70-112233445566"));
    assert_true(BID("00000000-0000-4000-9000-000000000000"));
    assert_true(BID("ffffffff-ffff-4fff-afff-ffffffffffff"));
    assert_true(BID("ffffffff-ffff-4fff-bfff-ffffffffffff"));
    assert_false(BID("6F1C9E0A-3B2D-4C5E-8F70-112233445566")); /* upper case */
    assert_false(BID("6f1c9e0a-3b2d-4c5e-8F70-112233445566"));
    assert_false(BID("6f1c9e0a-3b2d-5c5e-8f70-112233445566")); /* version 5 */
    assert_false(BID("6f1c9e0a-3b2d-1c5e-8f70-112233445566"));
    assert_false(BID("6f1c9e0a-3b2d-4c5e-7f70-112233445566")); /* variant */
    assert_false(BID("6f1c9e0a-3b2d-4c5e-cf70-112233445566"));
    assert_false(BID("6f1c9e0a-3b2d-4c5e-8f70-11223344556"));  /* 35 */
    assert_false(BID("6f1c9e0a-3b2d-4c5e-8f70-1122334455667")); /* 37 */
    assert_false(BID("6f1c9e0a3b2d-4c5e-8f70-1122334455667"));  /* dash moved */
    assert_false(BID("6f1c9e0g-3b2d-4c5e-8f70-112233445566"));  /* not hex */
    assert_false(BID("{6f1c9e0a-3b2d-4c5e-8f70-11223344556}"));
    assert_false(BID(""));
    assert_false(httpa_base_id_valid(NULL, 36));
#undef BID
    /* The field itself is checked on parse. */
    assert_int_equal(parse_one("Attest-Base-ID", "\"6f1c9e0a-3b2d-4c5e-8f70-112233445566\""),
                     HTTPA_OK);
    assert_int_equal(parse_one("Attest-Base-ID", "\"6F1C9E0A-3B2D-4C5E-8F70-112233445566\""),
                     HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-Base-ID", "\"6f1c9e0a-3b2d-3c5e-8f70-112233445566\""),
                     HTTPA_ERR_BAD_REQUEST);
}

static void test_random_length(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-Random", ":wMHCw8TFxsfIycrLzM3Oz8DBwsPExcbHyMnKy8zNzs8=:"),
                     HTTPA_OK);
    assert_int_equal(parse_one("Attest-Random", ":AAAA:"), HTTPA_ERR_BAD_REQUEST);
}

static void expect_origin(const char *target, const char *want)
{
    httpa_span s = httpa_origin_form(target, strlen(target));
    tl_assert_bytes(s.base, s.len, want, strlen(want));
    httpa_buf b;
    httpa_buf_init(&b, 256);
    assert_int_equal(httpa_origin_form_append(target, strlen(target), &b), HTTPA_OK);
    tl_assert_bytes(b.base, b.len, want, strlen(want));
    httpa_buf_free(&b);
}

static void test_origin_form(void **state)
{
    (void)state;
    expect_origin("/a/b?c=d", "/a/b?c=d");
    expect_origin("http://tservice.example/a/b?c=d", "/a/b?c=d");
    expect_origin("https://user@h:8443/x/%2e%2E/./y?q#frag", "/x/%2e%2E/./y?q");
    expect_origin("HTTPS://h", "/");
    expect_origin("http://h#f", "/");
    expect_origin("*", "*");
    expect_origin("h:443", "h:443");
    expect_origin("/p?u=http://x/", "/p?u=http://x/");
    /* Empty path with a query: "/?q" is not a substring of the target. */
    const char *t = "http://h?x=1";
    httpa_span s = httpa_origin_form(t, strlen(t));
    assert_null(s.base);
    assert_int_equal(s.len, 0);
    httpa_buf b;
    httpa_buf_init(&b, 256);
    assert_int_equal(httpa_origin_form_append(t, strlen(t), &b), HTTPA_OK);
    tl_assert_bytes(b.base, b.len, "/?x=1", 5);
    httpa_buf_free(&b);
}

/* An absolute-form target gives the same AHL as its origin-form. */
static void test_absolute_form_target_reduced(void **state)
{
    (void)state;
    json_t *ex = tl_get(tl_vectors(), "ahl_example");
    httpa_msg m;
    msg_from_json(tl_get(ex, "request"), &m);
    const char *abs = "http://tservice.example/a/b?c=d";
    assert_int_equal(httpa_msg_set_request_line(&m, "ATTEST", 6, abs, strlen(abs)), HTTPA_OK);
    check_ahls(&m, tl_str(ex, "ahl_core_hex"), tl_str(ex, "ahl_full_hex"));
    httpa_msg_free(&m);
}

static void put_entry(httpa_buf *b, const char *name, const char *value)
{
    assert_int_equal(httpa_buf_append_u16(b, (uint16_t)strlen(name)), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(b, name), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u32(b, (uint32_t)strlen(value)), HTTPA_OK);
    assert_int_equal(httpa_buf_append_str(b, value), HTTPA_OK);
}

static void test_unknown_fields_trimmed_and_included(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_response(&m, 200);
    msg_add_line(&m, "Attest-X-Ext", " \t a,b \t");
    msg_add_line(&m, "Attest-Expires", "3600");
    msg_add_line(&m, "ATTEST-Aaa", "z");
    msg_add_line(&m, "attest-x-ext", "  c");
    msg_add_line(&m, "Attest-Cargo", ":AA==:");
    msg_add_line(&m, "Attest-Zz", "");
    msg_add_line(&m, "X-Other", "ignored");
    httpa_fields f;
    assert_int_equal(httpa_fields_parse(&m, NULL, &f), HTTPA_OK);
    assert_int_equal(f.nunknown, 3);
    assert_string_equal(f.unknown[0].name, "attest-aaa");
    assert_string_equal(f.unknown[1].name, "attest-x-ext");
    assert_string_equal(f.unknown[2].name, "attest-zz");
    tl_assert_bytes(f.unknown[1].value.base, f.unknown[1].value.len, "a,b, c", 6);

    httpa_buf want, got;
    httpa_buf_init(&want, 4096);
    httpa_buf_init(&got, 4096);
    assert_int_equal(httpa_buf_append(&want, "httpa2 response", 16), HTTPA_OK);
    put_entry(&want, "@status", "200");
    put_entry(&want, "attest-aaa", "z");
    size_t core_cut = want.len;
    put_entry(&want, "attest-cargo", ":AA==:");
    size_t after_cargo = want.len;
    put_entry(&want, "attest-expires", "3600");
    put_entry(&want, "attest-x-ext", "a,b, c");
    put_entry(&want, "attest-zz", "");
    assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_FULL, &got), HTTPA_OK);
    tl_assert_bytes(got.base, got.len, want.base, want.len);

    /* X_core leaves out the cargo entry only. */
    httpa_buf core;
    httpa_buf_init(&core, 4096);
    assert_int_equal(httpa_buf_append(&core, want.base, core_cut), HTTPA_OK);
    assert_int_equal(httpa_buf_append(&core, want.base + after_cargo, want.len - after_cargo),
                     HTTPA_OK);
    httpa_buf_reset(&got);
    assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_CORE, &got), HTTPA_OK);
    tl_assert_bytes(got.base, got.len, core.base, core.len);

    httpa_buf_free(&core);
    httpa_buf_free(&want);
    httpa_buf_free(&got);
    httpa_fields_free(&f);
    httpa_msg_free(&m);
}

static void test_unknown_name_must_be_token(void **state)
{
    (void)state;
    assert_int_equal(parse_one("Attest-X(y)", "1"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-X y", "1"), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(parse_one("Attest-X.y~z", "1"), HTTPA_OK);
}

static void test_fid_names_sorted(void **state)
{
    (void)state;
    for (int i = 1; i < HTTPA_F__COUNT; i++)
        assert_true(strcmp(httpa_fid_name((httpa_fid)(i - 1)), httpa_fid_name((httpa_fid)i)) < 0);
    assert_string_equal(httpa_fid_name(HTTPA_F_BASE_ID), "attest-base-id");
    assert_string_equal(httpa_fid_name(HTTPA_F_VERSIONS), "attest-versions");
    assert_string_equal(httpa_fid_name(HTTPA_F__COUNT), "");
}

static void test_fields_item(void **state)
{
    (void)state;
    httpa_msg m;
    msg_attest_request(&m);
    msg_add_line(&m, "attest-date", "01700000000");
    msg_add_line(&m, "attest-versions", "httpa/2");
    httpa_fields f;
    assert_int_equal(httpa_fields_parse(&m, NULL, &f), HTTPA_OK);
    const httpa_sf_bare *b = httpa_fields_item(&f, HTTPA_F_DATE);
    assert_non_null(b);
    assert_int_equal(b->type, HTTPA_SF_INTEGER);
    assert_int_equal(b->integer, 1700000000);
    assert_null(httpa_fields_item(&f, HTTPA_F_VERSIONS)); /* a List */
    assert_null(httpa_fields_item(&f, HTTPA_F_RANDOM));   /* absent */
    assert_true(httpa_fields_has(&f, HTTPA_F_VERSIONS));
    assert_false(httpa_fields_has(&f, HTTPA_F_TICKET));
    httpa_fields_free(&f);
    httpa_fields_free(&f); /* idempotent */
    httpa_msg_free(&m);
}

static void test_ahl_needs_a_start_line(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m); /* no method or target */
    httpa_fields f;
    assert_int_equal(httpa_fields_parse(&m, NULL, &f), HTTPA_OK);
    httpa_buf out;
    httpa_buf_init(&out, 1024);
    assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_FULL, &out), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(out.len, 0);
    httpa_msg_free(&m);
    httpa_msg_init_response(&m, 42);
    assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_FULL, &out), HTTPA_ERR_INVALID_ARG);
    /* A too-small output leaves nothing half-written. */
    httpa_msg_free(&m);
    httpa_msg_init_response(&m, 200);
    httpa_buf_free(&out);
    httpa_buf_init(&out, 20);
    assert_int_equal(httpa_ahl_build(&m, &f, HTTPA_X_FULL, &out), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(out.len, 0);
    httpa_buf_free(&out);
    httpa_fields_free(&f);
    httpa_msg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sf_canonicalization_vectors),
        cmocka_unit_test(test_ahl_example),
        cmocka_unit_test(test_ahl_of_real_vectors),
        cmocka_unit_test(test_negative_vector_messages_parse),
        cmocka_unit_test(test_wrong_member_types),
        cmocka_unit_test(test_empty_list_or_dict),
        cmocka_unit_test(test_non_canonical_base64),
        cmocka_unit_test(test_date_and_display_string_refused),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_quotes_shape),
        cmocka_unit_test(test_policies_members),
        cmocka_unit_test(test_oversize_values),
        cmocka_unit_test(test_base_id_valid),
        cmocka_unit_test(test_random_length),
        cmocka_unit_test(test_origin_form),
        cmocka_unit_test(test_absolute_form_target_reduced),
        cmocka_unit_test(test_unknown_fields_trimmed_and_included),
        cmocka_unit_test(test_unknown_name_must_be_token),
        cmocka_unit_test(test_fid_names_sorted),
        cmocka_unit_test(test_fields_item),
        cmocka_unit_test(test_ahl_needs_a_start_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
