/* Runs every case of the HTTP WG structured-field-tests (RFC 8941 / RFC 9651)
 * against httpa_sf: parse, compare with `expected`, serialize, compare with
 * `canonical`; and the serialisation-tests, which start from `expected`.
 * The suite's files are listed at run time, so a new file is never missed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "httpa/sf.h"

#define SUITE_DIR "vectors/structured-field-tests"

typedef struct tally {
    size_t checked, passed, failed;
    size_t skipped_nul_key; /* serialisation cases with a NUL in a key */
    size_t can_fail_taken;  /* can_fail cases our strict parser rejects */
} tally;

/* Every allocation made while building one expected value, freed together. */
typedef struct pool {
    void **ptrs;
    size_t n, cap;
} pool;

static void *pool_alloc(pool *pl, size_t size)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        void **p = realloc(pl->ptrs, cap * sizeof(*p));
        assert_non_null(p);
        pl->ptrs = p;
        pl->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    assert_non_null(m);
    pl->ptrs[pl->n++] = m;
    return m;
}

static void pool_free(pool *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->ptrs[i]);
    free(pl->ptrs);
    *pl = (pool){0};
}

/* ---- from the suite's JSON encoding to an httpa_sf_value ---------------- */

typedef enum build_result {
    BUILT,
    BAD_JSON,       /* the case does not follow the suite's format */
    UNREPRESENTABLE /* a key with a NUL octet: keys are C strings in sf.h */
} build_result;

static int b32_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

static build_result base32_decode(pool *pl, const char *s, size_t len, httpa_sf_bare *b)
{
    uint8_t *out = pool_alloc(pl, len * 5 / 8 + 1);
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        int v = b32_value(s[i]);
        if (v < 0)
            return BAD_JSON;
        acc = acc << 5 | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    b->bytes = out;
    b->len = n;
    return BUILT;
}

/* Round the decimal digit string `d` (value d * 10^-drop) to an integer,
 * half to even, as RFC 9651 section 4.1.5 asks of a serializer. */
static int64_t round_half_even(const char *d, size_t nd, size_t drop)
{
    size_t keep = nd > drop ? nd - drop : 0;
    int64_t q = 0;
    for (size_t i = 0; i < keep; i++)
        q = q * 10 + (d[i] - '0');
    if (keep == nd || nd < drop)
        return q; /* nothing dropped, or the first dropped digit is a 0 */
    int first = d[keep] - '0';
    bool rest_zero = true;
    for (size_t i = keep + 1; i < nd; i++)
        rest_zero = rest_zero && d[i] == '0';
    if (first > 5 || (first == 5 && (!rest_zero || q % 2 == 1)))
        q++;
    return q;
}

/* JSON carries a Decimal as a binary double: recover the shortest decimal
 * text that reads back as the same double, then round it to thousandths
 * (the suite's rounding cases, e.g. 0.0025 -> 0.002, need the text). */
static build_result to_thousandths(double d, int64_t *out)
{
    char txt[40], digits[24];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(txt, sizeof(txt), "%.*e", prec - 1, d);
        if (strtod(txt, NULL) == d)
            break;
    }
    const char *p = txt + (txt[0] == '-');
    size_t nd = 0;
    for (; *p != 'e'; p++) {
        if (*p != '.')
            digits[nd++] = *p;
    }
    long exp10 = strtol(p + 1, NULL, 10);
    /* value = digits * 10^(exp10 - (nd - 1)); thousandths shift by 3 more */
    long shift = exp10 - (long)nd + 1 + 3;
    int64_t q;
    if (shift >= 0) {
        if ((long)nd + shift > 18)
            return BAD_JSON;
        q = round_half_even(digits, nd, 0);
        for (long i = 0; i < shift; i++)
            q *= 10;
    } else {
        q = round_half_even(digits, nd, (size_t)-shift);
    }
    *out = txt[0] == '-' ? -q : q;
    return BUILT;
}

static build_result build_typed(pool *pl, json_t *j, httpa_sf_bare *b)
{
    const char *type = json_string_value(json_object_get(j, "__type"));
    json_t *val = json_object_get(j, "value");
    if (type == NULL || val == NULL)
        return BAD_JSON;
    if (strcmp(type, "date") == 0 && json_is_integer(val)) {
        b->type = HTTPA_SF_DATE;
        b->integer = (int64_t)json_integer_value(val);
        return BUILT;
    }
    if (!json_is_string(val))
        return BAD_JSON;
    const char *s = json_string_value(val);
    size_t len = json_string_length(val);
    b->bytes = (const uint8_t *)s;
    b->len = len;
    if (strcmp(type, "token") == 0) {
        b->type = HTTPA_SF_TOKEN;
        return BUILT;
    }
    if (strcmp(type, "displaystring") == 0) {
        b->type = HTTPA_SF_DISPLAY_STRING;
        return BUILT;
    }
    if (strcmp(type, "binary") == 0) {
        b->type = HTTPA_SF_BINARY;
        return base32_decode(pl, s, len, b);
    }
    return BAD_JSON;
}

static build_result build_bare(pool *pl, json_t *j, httpa_sf_bare *b)
{
    *b = (httpa_sf_bare){0};
    switch (json_typeof(j)) {
    case JSON_INTEGER:
        b->type = HTTPA_SF_INTEGER;
        b->integer = (int64_t)json_integer_value(j);
        return BUILT;
    case JSON_REAL:
        b->type = HTTPA_SF_DECIMAL;
        return to_thousandths(json_real_value(j), &b->integer);
    case JSON_TRUE:
    case JSON_FALSE:
        b->type = HTTPA_SF_BOOLEAN;
        b->boolean = json_is_true(j);
        return BUILT;
    case JSON_STRING:
        b->type = HTTPA_SF_STRING;
        b->bytes = (const uint8_t *)json_string_value(j);
        b->len = json_string_length(j);
        return BUILT;
    case JSON_OBJECT:
        return build_typed(pl, j, b);
    case JSON_ARRAY:
    case JSON_NULL:
        break;
    }
    return BAD_JSON;
}

static build_result build_key(json_t *j, const char **key)
{
    if (!json_is_string(j))
        return BAD_JSON;
    *key = json_string_value(j);
    return strlen(*key) == json_string_length(j) ? BUILT : UNREPRESENTABLE;
}

/* [[name, bare], ...] */
static build_result build_params(pool *pl, json_t *j, const httpa_sf_param **out, size_t *n)
{
    if (!json_is_array(j))
        return BAD_JSON;
    *n = json_array_size(j);
    httpa_sf_param *p = pool_alloc(pl, *n * sizeof(*p));
    *out = p;
    for (size_t i = 0; i < *n; i++) {
        json_t *pair = json_array_get(j, i);
        if (json_array_size(pair) != 2)
            return BAD_JSON;
        build_result r = build_key(json_array_get(pair, 0), &p[i].key);
        if (r == BUILT)
            r = build_bare(pl, json_array_get(pair, 1), &p[i].value);
        if (r != BUILT)
            return r;
    }
    return BUILT;
}

/* [bare, params] */
static build_result build_item(pool *pl, json_t *j, httpa_sf_item *it)
{
    if (json_array_size(j) != 2)
        return BAD_JSON;
    build_result r = build_bare(pl, json_array_get(j, 0), &it->bare);
    if (r != BUILT)
        return r;
    return build_params(pl, json_array_get(j, 1), &it->params, &it->nparams);
}

/* [bare, params] or [[item, ...], params] */
static build_result build_member(pool *pl, json_t *j, httpa_sf_member *m)
{
    if (json_array_size(j) != 2)
        return BAD_JSON;
    json_t *first = json_array_get(j, 0);
    if (!json_is_array(first))
        return build_item(pl, j, &m->item);
    m->is_inner = true;
    m->ninner = json_array_size(first);
    httpa_sf_item *items = pool_alloc(pl, m->ninner * sizeof(*items));
    m->inner = items;
    for (size_t i = 0; i < m->ninner; i++) {
        build_result r = build_item(pl, json_array_get(first, i), &items[i]);
        if (r != BUILT)
            return r;
    }
    return build_params(pl, json_array_get(j, 1), &m->params, &m->nparams);
}

static build_result build_members(pool *pl, json_t *j, bool dict, httpa_sf_value *v)
{
    if (!json_is_array(j))
        return BAD_JSON;
    v->nmembers = json_array_size(j);
    httpa_sf_member *m = pool_alloc(pl, v->nmembers * sizeof(*m));
    v->members = m;
    for (size_t i = 0; i < v->nmembers; i++) {
        json_t *e = json_array_get(j, i);
        build_result r = BUILT;
        if (dict) {
            if (json_array_size(e) != 2)
                return BAD_JSON;
            r = build_key(json_array_get(e, 0), &m[i].key);
            e = json_array_get(e, 1);
        }
        if (r == BUILT)
            r = build_member(pl, e, &m[i]);
        if (r != BUILT)
            return r;
    }
    return BUILT;
}

static build_result build_value(pool *pl, httpa_sf_kind kind, json_t *j, httpa_sf_value *v)
{
    *v = (httpa_sf_value){.kind = kind};
    if (j == NULL)
        return BAD_JSON;
    if (kind == HTTPA_SF_ITEM)
        return build_item(pl, j, &v->item);
    return build_members(pl, j, kind == HTTPA_SF_DICT, v);
}

/* ---- structural comparison ---------------------------------------------- */

static bool bare_equal(const httpa_sf_bare *a, const httpa_sf_bare *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HTTPA_SF_INTEGER:
    case HTTPA_SF_DECIMAL:
    case HTTPA_SF_DATE:
        return a->integer == b->integer;
    case HTTPA_SF_BOOLEAN:
        return a->boolean == b->boolean;
    case HTTPA_SF_STRING:
    case HTTPA_SF_TOKEN:
    case HTTPA_SF_BINARY:
    case HTTPA_SF_DISPLAY_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
    }
    return false;
}

static bool key_equal(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool params_equal(const httpa_sf_param *a, size_t na, const httpa_sf_param *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!key_equal(a[i].key, b[i].key) || !bare_equal(&a[i].value, &b[i].value))
            return false;
    }
    return true;
}

static bool item_equal(const httpa_sf_item *a, const httpa_sf_item *b)
{
    return bare_equal(&a->bare, &b->bare) &&
           params_equal(a->params, a->nparams, b->params, b->nparams);
}

static bool member_equal(const httpa_sf_member *a, const httpa_sf_member *b)
{
    if (!key_equal(a->key, b->key) || a->is_inner != b->is_inner)
        return false;
    if (!a->is_inner)
        return item_equal(&a->item, &b->item);
    if (a->ninner != b->ninner || !params_equal(a->params, a->nparams, b->params, b->nparams))
        return false;
    for (size_t i = 0; i < a->ninner; i++) {
        if (!item_equal(&a->inner[i], &b->inner[i]))
            return false;
    }
    return true;
}

static bool value_equal(const httpa_sf_value *a, const httpa_sf_value *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == HTTPA_SF_ITEM)
        return item_equal(&a->item, &b->item);
    if (a->nmembers != b->nmembers)
        return false;
    for (size_t i = 0; i < a->nmembers; i++) {
        if (!member_equal(&a->members[i], &b->members[i]))
            return false;
    }
    return true;
}

/* ---- running the cases -------------------------------------------------- */

typedef struct suite_case {
    const char *file;
    const char *name;
    json_t *t;
    httpa_sf_kind kind;
    bool must_fail, can_fail;
} suite_case;

static bool flag(json_t *t, const char *key)
{
    return json_is_true(json_object_get(t, key));
}

static bool fail_case(tally *ta, const suite_case *c, const char *why)
{
    printf("FAIL %s: %s: %s\n", c->file, c->name, why);
    ta->failed++;
    return false;
}

/* Lines joined with ", " as RFC 9110 section 5.3 combines field lines;
 * JSON strings may hold NUL, so lengths are explicit. */
static bool join_lines(json_t *lines, httpa_buf *out)
{
    if (!json_is_array(lines))
        return false;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        json_t *l = json_array_get(lines, i);
        if (!json_is_string(l))
            return false;
        if (i != 0)
            assert_int_equal(httpa_buf_append(out, ", ", 2), HTTPA_OK);
        assert_int_equal(httpa_buf_append(out, json_string_value(l), json_string_length(l)),
                         HTTPA_OK);
    }
    return true;
}

/* Serialize `v` and compare with the case's `canonical` (else `raw`). */
static bool check_serialization(tally *ta, const suite_case *c, const httpa_sf_value *v,
                                const char *what)
{
    json_t *want_lines = json_object_get(c->t, "canonical");
    httpa_buf want, got;
    char why[160];
    bool ok;
    httpa_buf_init(&want, SIZE_MAX);
    httpa_buf_init(&got, SIZE_MAX);
    if (!join_lines(want_lines != NULL ? want_lines : json_object_get(c->t, "raw"), &want)) {
        ok = fail_case(ta, c, "no canonical or raw lines");
    } else if (httpa_sf_serialize(v, &got) != HTTPA_OK) {
        snprintf(why, sizeof(why), "%s value did not serialize", what);
        ok = fail_case(ta, c, why);
    } else if (got.len != want.len || (got.len != 0 && memcmp(got.base, want.base, got.len) != 0)) {
        snprintf(why, sizeof(why), "%s value serialized as [%.*s], want [%.*s]", what,
                 (int)(got.len > 60 ? 60 : got.len), got.base ? (const char *)got.base : "",
                 (int)(want.len > 60 ? 60 : want.len), want.base ? (const char *)want.base : "");
        ok = fail_case(ta, c, why);
    } else {
        ok = true;
    }
    httpa_buf_free(&want);
    httpa_buf_free(&got);
    return ok;
}

static bool check_parsed(tally *ta, const suite_case *c, const httpa_sf_value *got)
{
    pool pl = {0};
    httpa_sf_value want;
    bool ok;
    build_result r = build_value(&pl, c->kind, json_object_get(c->t, "expected"), &want);
    if (r != BUILT)
        ok = fail_case(ta, c, "cannot build the expected value");
    else if (!value_equal(got, &want))
        ok = fail_case(ta, c, "parsed value differs from expected");
    else
        ok = check_serialization(ta, c, got, "parsed") &&
             check_serialization(ta, c, &want, "expected");
    pool_free(&pl);
    return ok;
}

static bool run_parse_case(tally *ta, const suite_case *c)
{
    httpa_buf raw;
    httpa_sf_value *v = NULL;
    bool ok;
    httpa_buf_init(&raw, SIZE_MAX);
    if (!join_lines(json_object_get(c->t, "raw"), &raw)) {
        httpa_buf_free(&raw);
        return fail_case(ta, c, "bad raw lines");
    }
    httpa_err e = httpa_sf_parse(c->kind, (const char *)raw.base, raw.len, NULL, &v);
    httpa_buf_free(&raw);
    if (e != HTTPA_OK && e != HTTPA_ERR_BAD_REQUEST) {
        ok = fail_case(ta, c, httpa_err_name(e));
    } else if (c->must_fail) {
        ok = e != HTTPA_OK || fail_case(ta, c, "parse succeeded but must fail");
    } else if (e != HTTPA_OK && c->can_fail) {
        ta->can_fail_taken++;
        ok = true;
    } else if (e != HTTPA_OK) {
        ok = fail_case(ta, c, "parse failed");
    } else {
        ok = check_parsed(ta, c, v);
    }
    httpa_sf_free(v);
    return ok;
}

static bool run_serialize_case(tally *ta, const suite_case *c)
{
    pool pl = {0};
    httpa_sf_value v;
    httpa_buf out;
    bool ok;
    httpa_buf_init(&out, SIZE_MAX);
    build_result r = build_value(&pl, c->kind, json_object_get(c->t, "expected"), &v);
    if (r == UNREPRESENTABLE) {
        ta->skipped_nul_key++;
        ok = true;
    } else if (r != BUILT) {
        ok = fail_case(ta, c, "cannot build the expected value");
    } else if (c->must_fail) {
        httpa_err e = httpa_sf_serialize(&v, &out);
        ok = (e == HTTPA_ERR_BAD_REQUEST && out.len == 0) ||
             fail_case(ta, c, "serialization must fail with BAD_REQUEST and write nothing");
    } else {
        ok = check_serialization(ta, c, &v, "expected");
    }
    httpa_buf_free(&out);
    pool_free(&pl);
    return ok;
}

static bool case_kind(const char *type, httpa_sf_kind *kind)
{
    if (type != NULL && strcmp(type, "item") == 0)
        *kind = HTTPA_SF_ITEM;
    else if (type != NULL && strcmp(type, "list") == 0)
        *kind = HTTPA_SF_LIST;
    else if (type != NULL && strcmp(type, "dictionary") == 0)
        *kind = HTTPA_SF_DICT;
    else
        return false;
    return true;
}

static void run_case(tally *ta, const char *file, json_t *t, bool serialisation)
{
    suite_case c = {
        .file = file,
        .name = json_string_value(json_object_get(t, "name")),
        .t = t,
        .must_fail = flag(t, "must_fail"),
        .can_fail = flag(t, "can_fail"),
    };
    if (c.name == NULL)
        c.name = "(unnamed)";
    size_t skipped = ta->skipped_nul_key;
    bool ok;
    if (!case_kind(json_string_value(json_object_get(t, "header_type")), &c.kind))
        ok = fail_case(ta, &c, "unknown header_type");
    else if (serialisation)
        ok = run_serialize_case(ta, &c);
    else
        ok = run_parse_case(ta, &c);
    if (ta->skipped_nul_key != skipped)
        return;
    ta->checked++;
    if (ok)
        ta->passed++;
}

static void run_file(tally *ta, const char *rel, bool serialisation)
{
    json_error_t err;
    /* tl_load_json cannot be used: the suite has "\u0000" in some strings,
     * which jansson refuses without JSON_ALLOW_NUL. */
    json_t *cases = json_load_file(tl_shared_path(rel), JSON_ALLOW_NUL, &err);
    if (cases == NULL)
        fail_msg("cannot load %s: %s (line %d)", rel, err.text, err.line);
    assert_true(json_is_array(cases));
    for (size_t i = 0; i < json_array_size(cases); i++)
        run_case(ta, rel, json_array_get(cases, i), serialisation);
    json_decref(cases);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of a suite directory, sorted so the output is stable. */
static size_t list_json(const char *rel, char ***names)
{
    DIR *d = opendir(tl_shared_path(rel));
    size_t n = 0, cap = 0;
    struct dirent *de;
    if (d == NULL)
        fail_msg("cannot open %s", tl_shared_path(rel));
    *names = NULL;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            *names = realloc(*names, cap * sizeof(**names));
            assert_non_null(*names);
        }
        (*names)[n] = strdup(de->d_name);
        assert_non_null((*names)[n]);
        n++;
    }
    closedir(d);
    qsort(*names, n, sizeof(**names), cmp_names);
    return n;
}

static size_t run_dir(tally *ta, const char *rel, bool serialisation)
{
    char **names;
    char path[512];
    size_t n = list_json(rel, &names);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", rel, names[i]);
        run_file(ta, path, serialisation);
        free(names[i]);
    }
    free(names);
    return n;
}

static void test_httpwg_suite(void **state)
{
    (void)state;
    tally ta = {0};
    size_t files = run_dir(&ta, SUITE_DIR, false);
    files += run_dir(&ta, SUITE_DIR "/serialisation-tests", true);
    printf("sf suite: %zu cases checked, %zu passed, %zu failed "
           "(%zu skipped: key with a NUL octet, not expressible as a C-string key; "
           "%zu can_fail cases rejected by the strict parser, as allowed) in %zu files\n",
           ta.checked, ta.passed, ta.failed, ta.skipped_nul_key, ta.can_fail_taken, files);
    fflush(stdout);
    assert_true(files > 0);
    assert_true(ta.checked > 0);
    assert_int_equal(ta.failed, 0);
    assert_int_equal(ta.passed, ta.checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpwg_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
