/* SPDX-License-Identifier: MIT */
/*
 * check_auth.c - API keys (auth.c): key files with comments, blank lines
 * and spaces; which Authorization headers match a key (the scheme in any
 * case, keys exact, no prefix, no trailing byte, no overrun); and the
 * files it refuses, with the reason.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/service/auth.h"
#include "serviceutil.h"

/* lossd_auth_load with its complaints captured in *err. */
static lossd_auth *auth_load(const char *path, char **err)
{
    size_t size;
    FILE *f = open_memstream(err, &size);
    lossd_auth *a = lossd_auth_load(path, f);
    fclose(f);
    return a;
}

START_TEST(auth_keys)
{
    char *path = temp_file("# production keys\n"
                           "  alpha-key-1  \n"
                           "\n"
                           "   \n"
                           "\tbeta_key\t\r\n"
                           "# gamma-commented\n"
                           "k\n"
                           "last-key-without-newline");
    char *err;
    lossd_auth *a = auth_load(path, &err);
    ck_assert_msg(a != NULL, "%s", err);
    ck_assert_str_eq(err, "");
    free(err);
    static const struct {
        const char *header;
        bool ok;
    } cases[] = {
        {"Bearer alpha-key-1", true},
        {"bearer beta_key", true},
        {"BEARER k", true},
        {"BeArEr last-key-without-newline", true},
        {"Bearer   alpha-key-1", true}, /* spaces after the scheme are skipped */
        {"Bearer alpha-key", false},    /* a prefix of a key */
        {"Bearer alpha-key-12", false}, /* a key and one more character */
        {"Bearer alpha-key-1 ", false},
        {"Bearer  k2", false},
        {"Bearer ALPHA-KEY-1", false}, /* keys are case-sensitive */
        {"Bearer gamma-commented", false},
        {"Bearer # gamma-commented", false},
        {"Bearer ", false},
        {"Bearer", false},
        {"", false},
        {"Basic alpha-key-1", false},
        {"alpha-key-1", false},
        {"Bearer\talpha-key-1", false},
        {"Bearer beta_key\t", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(lossd_auth_check(a, cases[i].header) == cases[i].ok, "\"%s\": %s",
                      cases[i].header, cases[i].ok ? "refused" : "accepted");
    ck_assert(!lossd_auth_check(a, NULL));
    /* A long token (longer than any key could be) is refused, not overrun. */
    char long_header[1200] = "Bearer ";
    memset(long_header + 7, 'k', 1000);
    ck_assert(!lossd_auth_check(a, long_header));
    lossd_auth_destroy(a);
    lossd_auth_destroy(NULL);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(auth_bad_files)
{
    char *err;
    /* Only comments and blank lines: no key. */
    char *path = temp_file("# nothing here\n\n   \n#x\n");
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_msg(strstr(err, "holds no key") != NULL && strstr(err, path) != NULL, "%s", err);
    free(err);
    unlink(path);
    free(path);
    /* An empty file. */
    path = temp_file("");
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_ptr_nonnull(strstr(err, "holds no key"));
    free(err);
    unlink(path);
    free(path);
    /* A key longer than 255 bytes. */
    char content[400];
    memset(content, 'x', 300);
    strcpy(content + 300, "\n");
    path = temp_file(content);
    ck_assert_ptr_null(auth_load(path, &err));
    ck_assert_msg(strstr(err, ":1: key longer than 255 bytes") != NULL, "%s", err);
    free(err);
    unlink(path);
    free(path);
    /* A file that does not exist. */
    ck_assert_ptr_null(auth_load("/nonexistent/lossd/keys", &err));
    ck_assert_msg(strstr(err, "/nonexistent/lossd/keys") != NULL &&
                      strstr(err, "No such file or directory") != NULL,
                  "%s", err);
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    add_case(s, "auth", 10, NULL, NULL, TESTS(auth_keys, auth_bad_files));
    return run_service_suite(s);
}
