/* Focused tests of httpa_sf beyond the HTTP WG suite: limits, strict base64,
 * duplicate keys, the put_* helpers, decimal canonical form, error codes. */
#include <stdio.h>
#include <string.h>

#include "testlib.h"

#include "httpa/sf.h"

/* Parse a C string; the value (or NULL) goes to *out. */
static httpa_err parse_str(httpa_sf_kind kind, const char *s, const httpa_sf_limits *lim,
                           httpa_sf_value **out)
{
    return httpa_sf_parse(kind, s, strlen(s), lim, out);
}

static void assert_serializes_to(const httpa_sf_value *v, const char *want)
{
    httpa_buf b;
    httpa_buf_init(&b, 1 << 20);
    assert_int_equal(httpa_sf_serialize(v, &b), HTTPA_OK);
    tl_assert_bytes(b.base, b.len, want, strlen(want));
    httpa_buf_free(&b);
}

static void assert_round_trip(httpa_sf_kind kind, const char *in, const char *canonical)
{
    httpa_sf_value *v = NULL;
    assert_int_equal(parse_str(kind, in, NULL, &v), HTTPA_OK);
    assert_serializes_to(v, canonical);
    httpa_sf_free(v);
}

static void assert_parse_fails(httpa_sf_kind kind, const char *in, const httpa_sf_limits *lim,
                               httpa_err want)
{
    httpa_sf_value *v = (httpa_sf_value *)&v; /* must be reset to NULL */
    httpa_err e = parse_str(kind, in, lim, &v);
    if (e != want)
        fail_msg("parse of [%s]: got %s, want %s", in, httpa_err_name(e), httpa_err_name(want));
    assert_null(v);
}

/* ---- limits ---------------------------------------------------------------- */

static void test_max_input_is_enforced_before_parsing(void **state)
{
    (void)state;
    httpa_sf_limits lim = {.max_input = 8};
    httpa_sf_value *v = NULL;
    assert_parse_fails(HTTPA_SF_ITEM, "123456789", &lim, HTTPA_ERR_TOO_LARGE);
    assert_int_equal(parse_str(HTTPA_SF_ITEM, "12345678", &lim, &v), HTTPA_OK);
    httpa_sf_free(v);

    /* The default, 65536, applies when lim is NULL or its field is zero. */
    static char big[65537];
    memset(big, 'a', sizeof(big));
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, big, sizeof(big), NULL, &v),
                     HTTPA_ERR_TOO_LARGE);
    assert_null(v);
    lim = (httpa_sf_limits){.max_members = 4};
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, big, sizeof(big), &lim, &v),
                     HTTPA_ERR_TOO_LARGE);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, big, sizeof(big) - 1, &lim, &v), HTTPA_OK);
    assert_int_equal(v->item.bare.type, HTTPA_SF_TOKEN);
    assert_int_equal(v->item.bare.len, sizeof(big) - 1);
    httpa_sf_free(v);
}

static void test_max_members_list_and_dict(void **state)
{
    (void)state;
    httpa_sf_limits lim = {.max_members = 2};
    httpa_sf_value *v = NULL;
    assert_parse_fails(HTTPA_SF_LIST, "1, 2, 3", &lim, HTTPA_ERR_TOO_LARGE);
    assert_parse_fails(HTTPA_SF_DICT, "a, b, c", &lim, HTTPA_ERR_TOO_LARGE);
    /* Duplicates count too: the limit bounds work, not the result. */
    assert_parse_fails(HTTPA_SF_DICT, "a, a, a", &lim, HTTPA_ERR_TOO_LARGE);
    assert_int_equal(parse_str(HTTPA_SF_LIST, "1, 2", &lim, &v), HTTPA_OK);
    assert_int_equal(v->nmembers, 2);
    httpa_sf_free(v);

    /* Default 1024, the minimum RFC 9651 section 3.1 asks parsers to take. */
    httpa_buf in;
    httpa_buf_init(&in, SIZE_MAX);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(httpa_buf_append_str(&in, i ? ", 7" : "7"), HTTPA_OK);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_LIST, (char *)in.base, in.len, NULL, &v), HTTPA_OK);
    assert_int_equal(v->nmembers, 1024);
    httpa_sf_free(v);
    assert_int_equal(httpa_buf_append_str(&in, ", 7"), HTTPA_OK);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_LIST, (char *)in.base, in.len, NULL, &v),
                     HTTPA_ERR_TOO_LARGE);
    assert_null(v);
    httpa_buf_free(&in);
}

static void test_max_inner_and_max_params(void **state)
{
    (void)state;
    httpa_sf_limits lim = {.max_inner = 2, .max_params = 2};
    httpa_sf_value *v = NULL;
    assert_parse_fails(HTTPA_SF_LIST, "(1 2 3)", &lim, HTTPA_ERR_TOO_LARGE);
    assert_parse_fails(HTTPA_SF_ITEM, "1;a;b;c", &lim, HTTPA_ERR_TOO_LARGE);
    assert_parse_fails(HTTPA_SF_LIST, "(1;a;b;c)", &lim, HTTPA_ERR_TOO_LARGE);
    assert_parse_fails(HTTPA_SF_LIST, "(1);a;b;c", &lim, HTTPA_ERR_TOO_LARGE);
    assert_parse_fails(HTTPA_SF_DICT, "k;a;b;c", &lim, HTTPA_ERR_TOO_LARGE);
    assert_int_equal(parse_str(HTTPA_SF_LIST, "(1;a;b 2;c;d);e;f", &lim, &v), HTTPA_OK);
    assert_int_equal(v->members[0].ninner, 2);
    assert_int_equal(v->members[0].nparams, 2);
    assert_int_equal(v->members[0].inner[1].nparams, 2);
    httpa_sf_free(v);
}

/* ---- strict base64 ---------------------------------------------------------- */

static void test_base64_is_strict_and_canonical(void **state)
{
    (void)state;
    static const char *const bad[] = {
        ":aGVsbG8:",    /* missing padding */
        ":aGVsbG8==:",  /* too much padding */
        ":aGVsbA=:",    /* padding that leaves a partial group */
        ":iZ==:",       /* non-zero pad bits (one octet) */
        ":aGVsbG9=:",   /* non-zero pad bits (two octets) */
        ":=aGVsbG8=:",  /* padding first */
        ":aG=sbG8=:",   /* padding inside */
        ":aGVs\tbG8=:", /* whitespace */
        ":aGVsbG8=\n:", /* trailing newline */
        ":_-Ah:",       /* base64url alphabet */
        ":====:",       /* padding only */
        ":aGVsbG8=",    /* no closing colon */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(HTTPA_SF_ITEM, bad[i], NULL, HTTPA_ERR_BAD_REQUEST);

    httpa_sf_value *v = NULL;
    assert_int_equal(parse_str(HTTPA_SF_ITEM, ":aGVsbG8=:", NULL, &v), HTTPA_OK);
    assert_int_equal(v->item.bare.type, HTTPA_SF_BINARY);
    tl_assert_bytes(v->item.bare.bytes, v->item.bare.len, "hello", 5);
    assert_int_equal(v->item.bare.bytes[5], 0); /* NUL-terminated for convenience */
    httpa_sf_free(v);
    assert_round_trip(HTTPA_SF_ITEM, "::", "::");
    assert_round_trip(HTTPA_SF_ITEM, ":iQ==:", ":iQ==:");
    assert_round_trip(HTTPA_SF_ITEM, ":aGVsbA==:", ":aGVsbA==:");
    assert_round_trip(HTTPA_SF_ITEM, ":/+Ah:", ":/+Ah:");
}

/* ---- duplicate keys ----------------------------------------------------- */

static void test_duplicate_dict_keys_last_value_first_position(void **state)
{
    (void)state;
    httpa_sf_value *v = NULL;
    assert_int_equal(parse_str(HTTPA_SF_DICT, "a=1, b=2, a=(x y);p", NULL, &v), HTTPA_OK);
    assert_true(v->duplicate_keys);
    assert_int_equal(v->nmembers, 2);
    assert_string_equal(v->members[0].key, "a");
    assert_true(v->members[0].is_inner);
    assert_int_equal(v->members[0].ninner, 2);
    assert_string_equal(v->members[1].key, "b");
    const httpa_sf_member *a = httpa_sf_dict_find(v, "a");
    assert_ptr_equal(a, &v->members[0]);
    assert_null(httpa_sf_dict_find(v, "c"));
    assert_serializes_to(v, "a=(x y);p, b=2");
    httpa_sf_free(v);

    assert_int_equal(parse_str(HTTPA_SF_DICT, "a=1, b=2", NULL, &v), HTTPA_OK);
    assert_false(v->duplicate_keys);
    httpa_sf_free(v);
}

static void test_duplicate_params_last_value_first_position(void **state)
{
    (void)state;
    httpa_sf_value *v = NULL;
    assert_int_equal(parse_str(HTTPA_SF_LIST, "tok;a=1;b;a=\"two\"", NULL, &v), HTTPA_OK);
    assert_true(v->duplicate_keys);
    const httpa_sf_item *it = &v->members[0].item;
    assert_int_equal(it->nparams, 2);
    assert_string_equal(it->params[0].key, "a");
    assert_int_equal(it->params[0].value.type, HTTPA_SF_STRING);
    assert_string_equal((const char *)it->params[0].value.bytes, "two");
    const httpa_sf_param *b = httpa_sf_param_find(it->params, it->nparams, "b");
    assert_non_null(b);
    assert_true(b->value.type == HTTPA_SF_BOOLEAN && b->value.boolean);
    assert_null(httpa_sf_param_find(it->params, it->nparams, "c"));
    assert_serializes_to(v, "tok;a=\"two\";b");
    httpa_sf_free(v);

    /* Inner-list items and inner-list parameters each keep their own set. */
    assert_int_equal(parse_str(HTTPA_SF_LIST, "(a;x b;x);x", NULL, &v), HTTPA_OK);
    assert_false(v->duplicate_keys);
    httpa_sf_free(v);
    assert_int_equal(parse_str(HTTPA_SF_LIST, "(a b);x=1;x=2", NULL, &v), HTTPA_OK);
    assert_true(v->duplicate_keys);
    assert_serializes_to(v, "(a b);x=2");
    httpa_sf_free(v);
}

/* ---- decimals ------------------------------------------------------------ */

static void test_decimal_canonical_form(void **state)
{
    (void)state;
    assert_round_trip(HTTPA_SF_ITEM, "1.500", "1.5");
    assert_round_trip(HTTPA_SF_ITEM, "0.0", "0.0");
    assert_round_trip(HTTPA_SF_ITEM, "-0.0", "0.0");
    assert_round_trip(HTTPA_SF_ITEM, "-0.050", "-0.05");
    assert_round_trip(HTTPA_SF_ITEM, "007.001", "7.001");
    assert_round_trip(HTTPA_SF_ITEM, "999999999999.999", "999999999999.999");
    assert_round_trip(HTTPA_SF_ITEM, "-999999999999.999", "-999999999999.999");

    httpa_sf_value *v = NULL;
    assert_int_equal(parse_str(HTTPA_SF_ITEM, "-12.34", NULL, &v), HTTPA_OK);
    assert_int_equal(v->item.bare.type, HTTPA_SF_DECIMAL);
    assert_int_equal(v->item.bare.integer, -12340);
    httpa_sf_free(v);

    static const struct {
        int64_t thousandths;
        const char *want;
    } cases[] = {
        {0, "0.0"},       {1, "0.001"},       {10, "0.01"},   {100, "0.1"},
        {1000, "1.0"},    {1200, "1.2"},      {-1, "-0.001"}, {3600000, "3600.0"},
        {INT64_C(999999999999999), "999999999999.999"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        httpa_sf_bare b = {.type = HTTPA_SF_DECIMAL, .integer = cases[i].thousandths};
        httpa_buf out;
        httpa_buf_init(&out, 64);
        assert_int_equal(httpa_sf_put_bare(&out, &b), HTTPA_OK);
        tl_assert_bytes(out.base, out.len, cases[i].want, strlen(cases[i].want));
        httpa_buf_free(&out);
    }
    httpa_sf_bare huge = {.type = HTTPA_SF_DECIMAL, .integer = INT64_C(1000000000000000)};
    httpa_buf out;
    httpa_buf_init(&out, 64);
    assert_int_equal(httpa_sf_put_bare(&out, &huge), HTTPA_ERR_BAD_REQUEST);
    huge.integer = -huge.integer;
    assert_int_equal(httpa_sf_put_bare(&out, &huge), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(out.len, 0);
    httpa_buf_free(&out);
}

/* ---- put_* helpers ------------------------------------------------------- */

static void assert_buf_is(httpa_buf *b, const char *want)
{
    tl_assert_bytes(b->base, b->len, want, strlen(want));
    httpa_buf_reset(b);
}

static void test_put_helpers(void **state)
{
    (void)state;
    httpa_buf b;
    httpa_buf_init(&b, 256);

    assert_int_equal(httpa_sf_put_integer(&b, 42), HTTPA_OK);
    assert_buf_is(&b, "42");
    assert_int_equal(httpa_sf_put_integer(&b, -999999999999999), HTTPA_OK);
    assert_buf_is(&b, "-999999999999999");
    assert_int_equal(httpa_sf_put_integer(&b, 1000000000000000), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_integer(&b, INT64_MIN), HTTPA_ERR_BAD_REQUEST);

    assert_int_equal(httpa_sf_put_token(&b, "sim", 3), HTTPA_OK);
    assert_buf_is(&b, "sim");
    assert_int_equal(httpa_sf_put_token(&b, "*a:b/c!", 7), HTTPA_OK);
    assert_buf_is(&b, "*a:b/c!");
    assert_int_equal(httpa_sf_put_token(&b, "1abc", 4), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_token(&b, "a b", 3), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_token(&b, "", 0), HTTPA_ERR_BAD_REQUEST);

    assert_int_equal(httpa_sf_put_string(&b, "a\"b\\c", 5), HTTPA_OK);
    assert_buf_is(&b, "\"a\\\"b\\\\c\"");
    assert_int_equal(httpa_sf_put_string(&b, "", 0), HTTPA_OK);
    assert_buf_is(&b, "\"\"");
    assert_int_equal(httpa_sf_put_string(&b, "tab\there", 8), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_string(&b, "nul\0", 4), HTTPA_ERR_BAD_REQUEST);

    assert_int_equal(httpa_sf_put_binary(&b, (const uint8_t *)"hello", 5), HTTPA_OK);
    assert_buf_is(&b, ":aGVsbG8=:");
    assert_int_equal(httpa_sf_put_binary(&b, NULL, 0), HTTPA_OK);
    assert_buf_is(&b, "::");
    assert_int_equal(httpa_sf_put_binary(&b, (const uint8_t *)"\x00\x00\x00", 3), HTTPA_OK);
    assert_buf_is(&b, ":AAAA:");

    assert_int_equal(httpa_sf_put_boolean(&b, true), HTTPA_OK);
    assert_int_equal(httpa_sf_put_boolean(&b, false), HTTPA_OK);
    assert_buf_is(&b, "?1?0");

    assert_int_equal(httpa_sf_put_key(&b, "allow-untrusted", 15), HTTPA_OK);
    assert_buf_is(&b, "allow-untrusted");
    assert_int_equal(httpa_sf_put_key(&b, "*x_1.2", 6), HTTPA_OK);
    assert_buf_is(&b, "*x_1.2");
    assert_int_equal(httpa_sf_put_key(&b, "Upper", 5), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_key(&b, "1a", 2), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_put_key(&b, "", 0), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(b.len, 0); /* failed helpers wrote nothing */

    httpa_sf_bare date = {.type = HTTPA_SF_DATE, .integer = 1659578233};
    assert_int_equal(httpa_sf_put_bare(&b, &date), HTTPA_OK);
    assert_buf_is(&b, "@1659578233");
    httpa_sf_bare ds = {.type = HTTPA_SF_DISPLAY_STRING,
                        .bytes = (const uint8_t *)"f\xc3\xbc \"%\"",
                        .len = 7};
    assert_int_equal(httpa_sf_put_bare(&b, &ds), HTTPA_OK);
    assert_buf_is(&b, "%\"f%c3%bc %22%25%22\"");
    ds = (httpa_sf_bare){.type = HTTPA_SF_DISPLAY_STRING, .bytes = (const uint8_t *)"\xc3", .len = 1};
    assert_int_equal(httpa_sf_put_bare(&b, &ds), HTTPA_ERR_BAD_REQUEST);
    httpa_sf_bare bogus = {.type = (httpa_sf_type)99};
    assert_int_equal(httpa_sf_put_bare(&b, &bogus), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(b.len, 0);

    /* The buffer's maximum is honoured and nothing partial is left. */
    httpa_buf small;
    httpa_buf_init(&small, 4);
    assert_int_equal(httpa_sf_put_binary(&small, (const uint8_t *)"hello", 5), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(httpa_sf_put_string(&small, "hello", 5), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(small.len, 0);
    httpa_buf_free(&small);
    httpa_buf_free(&b);
}

/* ---- serialize ------------------------------------------------------------ */

static void test_serialize_failure_leaves_buffer_unchanged(void **state)
{
    (void)state;
    httpa_sf_member m[2] = {
        {.key = "a", .item = {.bare = {.type = HTTPA_SF_INTEGER, .integer = 1}}},
        {.key = "b", .item = {.bare = {.type = HTTPA_SF_TOKEN, .bytes = (const uint8_t *)"9", .len = 1}}},
    };
    httpa_sf_value v = {.kind = HTTPA_SF_DICT, .members = m, .nmembers = 2};
    httpa_buf b;
    httpa_buf_init(&b, 256);
    assert_int_equal(httpa_buf_append_str(&b, "prefix:"), HTTPA_OK);
    assert_int_equal(httpa_sf_serialize(&v, &b), HTTPA_ERR_BAD_REQUEST);
    assert_buf_is(&b, "prefix:");

    m[1].key = "B";
    m[1].item.bare.bytes = (const uint8_t *)"t";
    assert_int_equal(httpa_sf_serialize(&v, &b), HTTPA_ERR_BAD_REQUEST);
    m[1].key = "b";
    assert_int_equal(httpa_sf_serialize(&v, &b), HTTPA_OK);
    assert_buf_is(&b, "a=1, b=t");
    v.kind = HTTPA_SF_LIST;
    assert_int_equal(httpa_sf_serialize(&v, &b), HTTPA_OK);
    assert_buf_is(&b, "1, t");
    v.kind = (httpa_sf_kind)7;
    assert_int_equal(httpa_sf_serialize(&v, &b), HTTPA_ERR_INVALID_ARG);
    httpa_buf_free(&b);
}

static void test_profile_examples_round_trip(void **state)
{
    (void)state;
    assert_round_trip(HTTPA_SF_DICT, "direct, allow-untrusted=?0, fresh=?0",
                      "direct, allow-untrusted=?0, fresh=?0");
    assert_round_trip(HTTPA_SF_LIST, "(sim :aGVsbG8=:);format=raw", "(sim :aGVsbG8=:);format=raw");
    assert_round_trip(HTTPA_SF_DICT, "x25519=:AAAA:", "x25519=:AAAA:");
    assert_round_trip(HTTPA_SF_DICT, "  a=?1;p , b=( 1   2 )  ", "a;p, b=(1 2)");
    assert_round_trip(HTTPA_SF_LIST, "a,b\t,\tc", "a, b, c");
    assert_round_trip(HTTPA_SF_ITEM, "%\"%61%c3%bc\"", "%\"a%c3%bc\"");
    assert_round_trip(HTTPA_SF_ITEM, "@-0", "@0");
}

static void test_empty_list_and_dict_have_no_members(void **state)
{
    (void)state;
    static const char *const empties[] = {"", "   "};
    for (size_t i = 0; i < 2; i++) {
        httpa_sf_value *v = NULL;
        assert_int_equal(parse_str(HTTPA_SF_LIST, empties[i], NULL, &v), HTTPA_OK);
        assert_int_equal(v->nmembers, 0);
        assert_serializes_to(v, "");
        httpa_sf_free(v);
        assert_int_equal(parse_str(HTTPA_SF_DICT, empties[i], NULL, &v), HTTPA_OK);
        assert_int_equal(v->nmembers, 0);
        assert_null(httpa_sf_dict_find(v, "a"));
        httpa_sf_free(v);
    }
    httpa_sf_value *v = NULL;
    assert_int_equal(httpa_sf_parse(HTTPA_SF_LIST, NULL, 0, NULL, &v), HTTPA_OK);
    assert_int_equal(v->nmembers, 0);
    httpa_sf_free(v);
    httpa_sf_free(NULL);
}

/* ---- errors ---------------------------------------------------------------- */
/* Leaks on these paths are caught by the HTTPA_SANITIZE build (LeakSanitizer). */

static void test_every_syntax_error_is_bad_request(void **state)
{
    (void)state;
    static const struct {
        httpa_sf_kind kind;
        const char *in;
    } bad[] = {
        {HTTPA_SF_ITEM, ""},
        {HTTPA_SF_ITEM, " "},
        {HTTPA_SF_ITEM, "1 2"},
        {HTTPA_SF_ITEM, "\t1"},
        {HTTPA_SF_ITEM, "1\t"},
        {HTTPA_SF_ITEM, "1234567890123456"},
        {HTTPA_SF_ITEM, "1234567890123.0"},
        {HTTPA_SF_ITEM, "1.2345"},
        {HTTPA_SF_ITEM, "1."},
        {HTTPA_SF_ITEM, "-"},
        {HTTPA_SF_ITEM, "-a"},
        {HTTPA_SF_ITEM, "\"abc"},
        {HTTPA_SF_ITEM, "\"a\\b\""},
        {HTTPA_SF_ITEM, "\"a\\"},
        {HTTPA_SF_ITEM, "\"\x7f\""},
        {HTTPA_SF_ITEM, "\"\xc3\xbc\""},
        {HTTPA_SF_ITEM, "?2"},
        {HTTPA_SF_ITEM, "?"},
        {HTTPA_SF_ITEM, "@1.5"},
        {HTTPA_SF_ITEM, "@"},
        {HTTPA_SF_ITEM, "%\"%C3%BC\""},
        {HTTPA_SF_ITEM, "%\"%c0%80\""},        /* overlong NUL */
        {HTTPA_SF_ITEM, "%\"%e0%80%80\""},     /* overlong, three octets */
        {HTTPA_SF_ITEM, "%\"%ed%a0%80\""},     /* UTF-16 surrogate */
        {HTTPA_SF_ITEM, "%\"%f4%90%80%80\""},  /* above U+10FFFF */
        {HTTPA_SF_ITEM, "%\"%f5%80%80%80\""},  /* invalid lead octet */
        {HTTPA_SF_ITEM, "%\"%e2%82\""},        /* truncated sequence */
        {HTTPA_SF_ITEM, "%\"%e2%82"},
        {HTTPA_SF_ITEM, "%\"%8\""},
        {HTTPA_SF_ITEM, "%abc"},
        {HTTPA_SF_ITEM, "a;"},
        {HTTPA_SF_ITEM, "a;A=1"},
        {HTTPA_SF_ITEM, "a;b="},
        {HTTPA_SF_ITEM, "a; b=1 ;c"},
        {HTTPA_SF_ITEM, "(1)"},
        {HTTPA_SF_ITEM, "\xff"},
        {HTTPA_SF_LIST, "1,"},
        {HTTPA_SF_LIST, ",1"},
        {HTTPA_SF_LIST, "1,,2"},
        {HTTPA_SF_LIST, "1 2"},
        {HTTPA_SF_LIST, "(1 2"},
        {HTTPA_SF_LIST, "(1,2)"},
        {HTTPA_SF_LIST, "(1)(2)"},
        {HTTPA_SF_LIST, "((1))"},
        {HTTPA_SF_LIST, "(1)a"},
        {HTTPA_SF_DICT, "a=1,"},
        {HTTPA_SF_DICT, "A=1"},
        {HTTPA_SF_DICT, "a="},
        {HTTPA_SF_DICT, "1=a"},
        {HTTPA_SF_DICT, "a =1"},
        {HTTPA_SF_DICT, "a= 1"},
        {HTTPA_SF_DICT, "a=1 b=2"},
        {HTTPA_SF_DICT, "a;=1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        httpa_sf_value *v = (httpa_sf_value *)&v;
        httpa_err e = parse_str(bad[i].kind, bad[i].in, NULL, &v);
        if (e != HTTPA_ERR_BAD_REQUEST)
            fail_msg("[%s] kind %d: got %s", bad[i].in, (int)bad[i].kind, httpa_err_name(e));
        assert_null(v);
    }
    /* An embedded NUL is an ordinary bad octet: lengths are explicit. */
    httpa_sf_value *v = NULL;
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, "a\0", 2, NULL, &v), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, "\"a\0\"", 4, NULL, &v), HTTPA_ERR_BAD_REQUEST);
    assert_null(v);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    httpa_sf_value *v = NULL;
    httpa_buf b;
    httpa_buf_init(&b, 16);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, "1", 1, NULL, NULL), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, NULL, 1, NULL, &v), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_sf_parse((httpa_sf_kind)9, "1", 1, NULL, &v), HTTPA_ERR_INVALID_ARG);
    assert_null(v);
    assert_int_equal(httpa_sf_serialize(NULL, &b), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_sf_put_token(&b, NULL, 1), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_sf_put_binary(NULL, NULL, 0), HTTPA_ERR_INVALID_ARG);
    assert_null(httpa_sf_param_find(NULL, 0, "a"));
    assert_null(httpa_sf_dict_find(NULL, "a"));
    httpa_buf_free(&b);
}

/* httpa_sf_bare_is: the octets of tokens, strings, byte sequences and
 * display strings; never a number or a boolean, never NULL. */
static void test_bare_is(void **state)
{
    (void)state;
    static const char *const in[] = {"abc", "\"abc\"", ":YWJj:", "%\"abc\"", "1", "?1", "\"\""};
    static const bool want_abc[] = {true, true, true, true, false, false, false};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        httpa_sf_value *v = NULL;
        assert_int_equal(httpa_sf_parse(HTTPA_SF_ITEM, in[i], strlen(in[i]), NULL, &v), HTTPA_OK);
        const httpa_sf_bare *b = &v->item.bare;
        assert_int_equal(httpa_sf_bare_is(b, "abc"), want_abc[i]);
        assert_false(httpa_sf_bare_is(b, "ab"));
        assert_int_equal(httpa_sf_bare_is(b, ""), i == 6);
        httpa_sf_free(v);
    }
    assert_false(httpa_sf_bare_is(NULL, "abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_input_is_enforced_before_parsing),
        cmocka_unit_test(test_bare_is),
        cmocka_unit_test(test_max_members_list_and_dict),
        cmocka_unit_test(test_max_inner_and_max_params),
        cmocka_unit_test(test_base64_is_strict_and_canonical),
        cmocka_unit_test(test_duplicate_dict_keys_last_value_first_position),
        cmocka_unit_test(test_duplicate_params_last_value_first_position),
        cmocka_unit_test(test_decimal_canonical_form),
        cmocka_unit_test(test_put_helpers),
        cmocka_unit_test(test_serialize_failure_leaves_buffer_unchanged),
        cmocka_unit_test(test_profile_examples_round_trip),
        cmocka_unit_test(test_empty_list_and_dict_have_no_members),
        cmocka_unit_test(test_every_syntax_error_is_bad_request),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
