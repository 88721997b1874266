/* Buffers, readers and error names. */
#include <string.h>

#include "testlib.h"
#include "httpa/buf.h"

static void test_buf_refuses_growth_past_max(void **state)
{
    (void)state;
    httpa_buf b;
    httpa_buf_init(&b, 8);
    assert_int_equal(httpa_buf_append(&b, "12345678", 8), HTTPA_OK);
    assert_int_equal(httpa_buf_append_u8(&b, 1), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(b.len, 8);
    httpa_buf_free(&b);
}

static void test_buf_reserve_rejects_overflowing_sizes(void **state)
{
    (void)state;
    httpa_buf b;
    httpa_buf_init_sensitive(&b, SIZE_MAX);
    assert_int_equal(httpa_buf_append(&b, "ab", 2), HTTPA_OK);
    assert_int_equal(httpa_buf_reserve(&b, SIZE_MAX), HTTPA_ERR_TOO_LARGE);
    assert_int_equal(httpa_buf_append_u64(&b, 0x0102030405060708ull), HTTPA_OK);
    tl_assert_bytes(b.base, b.len, "ab\1\2\3\4\5\6\7\10", 10);
    httpa_buf_free(&b);
}

static void test_reader_fails_on_short_input_without_consuming(void **state)
{
    (void)state;
    const uint8_t in[3] = {0, 5, 9};
    httpa_reader r = httpa_reader_of(HTTPA_SPAN(in, sizeof(in)));
    uint16_t v16;
    uint32_t v32;
    httpa_span s;
    assert_int_equal(httpa_read_u16(&r, &v16), HTTPA_OK);
    assert_int_equal(v16, 5);
    assert_int_equal(httpa_read_u32(&r, &v32), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_read_span(&r, 2, &s), HTTPA_ERR_BAD_REQUEST);
    assert_int_equal(httpa_reader_left(&r), 1);
}

static void test_error_tokens_round_trip(void **state)
{
    (void)state;
    assert_string_equal(httpa_err_token(HTTPA_ERR_BAD_TICKET), "bad_ticket");
    assert_int_equal(httpa_err_status(HTTPA_ERR_UNKNOWN_BASE), 503);
    assert_int_equal(httpa_err_from_token("replay", 6), HTTPA_ERR_REPLAY);
    assert_int_equal(httpa_err_from_token("nonsense", 8), HTTPA_ERR_INTERNAL);
    assert_null(httpa_err_token(HTTPA_ERR_NOMEM));
    for (int e = 0; e < HTTPA_ERR__COUNT; e++)
        assert_non_null(httpa_strerror((httpa_err)e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_refuses_growth_past_max),
        cmocka_unit_test(test_buf_reserve_rejects_overflowing_sizes),
        cmocka_unit_test(test_reader_fails_on_short_input_without_consuming),
        cmocka_unit_test(test_error_tokens_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
