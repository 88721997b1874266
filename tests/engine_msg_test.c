/* httpa_msg: owned copies, case-insensitive lookup, combine, remove, growth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "httpa/limits.h"
#include "httpa/msg.h"

static void add(httpa_msg *m, const char *n, const char *v)
{
    assert_int_equal(httpa_msg_add_str(m, n, v), HTTPA_OK);
}

static void test_request_line_is_copied(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    assert_false(m.is_response);
    char method[] = "POST", target[] = "/a?b";
    assert_int_equal(httpa_msg_set_request_line(&m, method, 4, target, 4), HTTPA_OK);
    method[0] = 'X';
    target[1] = 'X';
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.target, "/a?b");
    assert_int_equal(m.method_len, 4);
    /* Setting again replaces (and frees) the old line. */
    assert_int_equal(httpa_msg_set_request_line(&m, "GET", 3, "/", 1), HTTPA_OK);
    assert_string_equal(m.method, "GET");
    assert_string_equal(m.target, "/");
    assert_int_equal(httpa_msg_set_request_line(&m, "GET", 0, "/", 1), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_msg_set_request_line(&m, "GET", 3, "/", 0), HTTPA_ERR_INVALID_ARG);
    httpa_msg_free(&m);
    assert_null(m.method);
    assert_null(m.headers);
}

static void test_response_init(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_response(&m, 204);
    assert_true(m.is_response);
    assert_int_equal(m.status, 204);
    assert_int_equal(m.nheaders, 0);
    httpa_msg_free(&m);
}

static void test_add_copies_and_terminates(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    char name[] = "X-Aa", value[] = "v1zz";
    assert_int_equal(httpa_msg_add(&m, name, 4, value, 2), HTTPA_OK);
    name[0] = 'Q';
    value[0] = 'Q';
    assert_int_equal(m.nheaders, 1);
    assert_string_equal(m.headers[0].name, "X-Aa");
    assert_string_equal(m.headers[0].value, "v1");
    assert_int_equal(m.headers[0].value_len, 2);
    assert_false(m.headers[0].sealed);
    /* An empty value is a valid field line. */
    assert_int_equal(httpa_msg_add(&m, "E", 1, NULL, 0), HTTPA_OK);
    assert_string_equal(m.headers[1].value, "");
    assert_int_equal(httpa_msg_add(&m, "E", 0, "x", 1), HTTPA_ERR_INVALID_ARG);
    assert_int_equal(httpa_msg_add(&m, "E", 1, NULL, 1), HTTPA_ERR_INVALID_ARG);
    httpa_msg_free(&m);
}

static void test_find_and_count_ignore_case(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    add(&m, "Attest-Versions", "httpa/2");
    add(&m, "Host", "h");
    add(&m, "ATTEST-VERSIONS", "httpa/3");
    const httpa_header *h = httpa_msg_find(&m, "attest-versions", 15);
    assert_non_null(h);
    assert_string_equal(h->value, "httpa/2");
    assert_int_equal(httpa_msg_count(&m, "aTTEST-vERSIONS", 15), 2);
    assert_int_equal(httpa_msg_count(&m, "attest-version", 14), 0);
    assert_null(httpa_msg_find(&m, "hos", 3));
    assert_true(httpa_name_eq("Content-Type", 12, "content-TYPE", 12));
    assert_false(httpa_name_eq("a", 1, "ab", 2));
    /* Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ. */
    assert_false(httpa_name_eq("@", 1, "`", 1));
    httpa_msg_free(&m);
}

static void test_combine_joins_in_order(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    add(&m, "A", "1");
    add(&m, "b", "x");
    add(&m, "a", "2, 3");
    add(&m, "A", "");
    httpa_buf out;
    httpa_buf_init(&out, 1024);
    bool found = true;
    assert_int_equal(httpa_msg_combine(&m, "missing", 7, &out, &found), HTTPA_OK);
    assert_false(found);
    assert_int_equal(out.len, 0);
    assert_int_equal(httpa_msg_combine(&m, "a", 1, &out, &found), HTTPA_OK);
    assert_true(found);
    tl_assert_bytes(out.base, out.len, "1, 2, 3, ", 9);
    httpa_buf_free(&out);

    /* The output buffer's bound is honoured. */
    httpa_buf_init(&out, 4);
    assert_int_equal(httpa_msg_combine(&m, "a", 1, &out, &found), HTTPA_ERR_TOO_LARGE);
    httpa_buf_free(&out);
    httpa_msg_free(&m);
}

static void test_remove_keeps_order_of_others(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    add(&m, "Attest-Ticket", ":AAAA:");
    add(&m, "Host", "h");
    add(&m, "attest-ticket", ":AQ==:");
    add(&m, "X", "1");
    assert_int_equal(httpa_msg_remove(&m, "ATTEST-TICKET", 13), 2);
    assert_int_equal(m.nheaders, 2);
    assert_string_equal(m.headers[0].name, "Host");
    assert_string_equal(m.headers[1].name, "X");
    assert_int_equal(httpa_msg_remove(&m, "attest-ticket", 13), 0);
    /* Removing everything, then adding again, works on the same message. */
    assert_int_equal(httpa_msg_remove(&m, "host", 4), 1);
    assert_int_equal(httpa_msg_remove(&m, "x", 1), 1);
    assert_int_equal(m.nheaders, 0);
    add(&m, "Y", "2");
    assert_int_equal(m.nheaders, 1);
    httpa_msg_free(&m);
}

static void test_growth_keeps_every_line(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    char name[32], value[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "X-%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        add(&m, name, value);
    }
    assert_int_equal(m.nheaders, 1000);
    assert_true(m.cap >= 1000);
    const httpa_header *h = httpa_msg_find(&m, "x-777", 5);
    assert_non_null(h);
    assert_string_equal(h->value, "v777");
    httpa_msg_free(&m);
}

static void test_oversize_name_refused(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    size_t n = 70000;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    /* An AHL name length is a u16: longer names can never be valid. */
    assert_int_equal(httpa_msg_add(&m, big, n, "v", 1), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(m.nheaders, 0);
    free(big);
    httpa_msg_free(&m);
}

/* Methods compare exactly (they are case-sensitive); a response has none. */
static void test_method_is(void **state)
{
    (void)state;
    httpa_msg m;
    httpa_msg_init_request(&m);
    assert_false(httpa_msg_method_is(&m, "GET"));
    assert_int_equal(httpa_msg_set_request_line(&m, "GET", 3, "/", 1), HTTPA_OK);
    assert_true(httpa_msg_method_is(&m, "GET"));
    assert_false(httpa_msg_method_is(&m, "get"));
    assert_false(httpa_msg_method_is(&m, "GE"));
    assert_false(httpa_msg_method_is(&m, "GETS"));
    httpa_msg_free(&m);
}

/* Zero fields take their defaults, set ones stay. */
static void test_limits_resolve(void **state)
{
    (void)state;
    httpa_limits d = httpa_limits_default();
    httpa_limits l = httpa_limits_resolve((httpa_limits){.max_body = 7, .record_size = 1024});
    assert_int_equal(l.max_body, 7);
    assert_int_equal(l.record_size, 1024);
    assert_int_equal(l.max_field_value, d.max_field_value);
    assert_int_equal(l.max_attest_fields, d.max_attest_fields);
    assert_int_equal(l.max_field_lines, d.max_field_lines);
    assert_int_equal(l.max_sf_members, d.max_sf_members);
    assert_int_equal(l.max_cargo, d.max_cargo);
    assert_int_equal(l.max_secret, d.max_secret);
    assert_int_equal(l.max_bases, d.max_bases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line_is_copied),
        cmocka_unit_test(test_response_init),
        cmocka_unit_test(test_method_is),
        cmocka_unit_test(test_limits_resolve),
        cmocka_unit_test(test_add_copies_and_terminates),
        cmocka_unit_test(test_find_and_count_ignore_case),
        cmocka_unit_test(test_combine_joins_in_order),
        cmocka_unit_test(test_remove_keeps_order_of_others),
        cmocka_unit_test(test_growth_keeps_every_line),
        cmocka_unit_test(test_oversize_name_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
