/* SPDX-License-Identifier: MIT */
/*
 * check_client.c - who sent a request (client.c): --trusted-proxy lists,
 * the peer address as the log writes it (IPv6 in brackets, with the
 * port), the client behind trusted proxies from X-Forwarded-For (the
 * right-most address not itself trusted; spoofed entries to its left
 * ignored), and request ids (which a client may send; generated ones
 * unique across threads).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/client.h"
#include "serviceutil.h"

/* A socket address for a numeric address and port (IPv4 or IPv6). */
static struct sockaddr_storage sock(const char *address, unsigned port)
{
    struct sockaddr_storage ss = {0};
    if (strchr(address, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET6, address, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ck_assert_int_eq(inet_pton(AF_INET, address, &in->sin_addr), 1);
    }
    return ss;
}

static lossd_trust trust_of(const char *list)
{
    lossd_trust t;
    char why[256] = "";
    ck_assert_msg(lossd_trust_parse(&t, list, why, sizeof why) == 0, "%s: %s", list, why);
    return t;
}

static bool contains(const lossd_trust *t, const char *address)
{
    struct sockaddr_storage ss = sock(address, 1);
    return lossd_trust_contains(t, (struct sockaddr *)&ss);
}

START_TEST(trust_lists)
{
    lossd_trust t = trust_of("10.0.0.0/8, 192.168.1.7 ,fd00::/8,2001:db8::1/128");
    ck_assert_uint_eq(t.n, 4);
    static const char *const inside[] = {"10.0.0.1",     "10.255.255.255", "192.168.1.7",
                                         "fd12:3456::1", "2001:db8::1",    "::ffff:10.1.2.3"};
    static const char *const outside[] = {"11.0.0.1",    "192.168.1.8",     "fe80::1",
                                          "2001:db8::2", "::ffff:11.0.0.1", "::a00:1"};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++)
        ck_assert_msg(contains(&t, inside[i]), "%s is not trusted", inside[i]);
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        ck_assert_msg(!contains(&t, outside[i]), "%s is trusted", outside[i]);

    /* Host bits are dropped; odd prefixes; everything; an IPv4-mapped range is IPv4. */
    t = trust_of("10.1.2.3/8");
    ck_assert(contains(&t, "10.200.0.1"));
    t = trust_of("172.16.0.0/12");
    ck_assert(contains(&t, "172.31.255.255") && !contains(&t, "172.32.0.0"));
    t = trust_of("0.0.0.0/0,::/0");
    ck_assert(contains(&t, "203.0.113.9") && contains(&t, "2001:db8::9"));
    t = trust_of("::ffff:10.0.0.0/104");
    ck_assert(contains(&t, "10.9.9.9") && !contains(&t, "11.0.0.0"));

    static const struct {
        const char *list, *fragment;
    } bad[] = {
        {"", "empty or overlong item"},
        {"10.0.0.0/8,", "empty or overlong item"},
        {" , 10.0.0.1", "empty or overlong item"},
        {"nginx", "\"nginx\" is not an IPv4 or IPv6 address"},
        {"10.0.0.0/33", "\"10.0.0.0/33\": the prefix length must be 0 to 32"},
        {"fd00::/129", "must be 0 to 128"},
        {"10.0.0.0/x", "the prefix length"},
        {"10.0.0.0/", "the prefix length"},
        {"1.2.3.4:80", "is not an IPv4 or IPv6 address"},
        {"[::1]", "is not an IPv4 or IPv6 address"},
        {"::ffff:10.0.0.0/64", "must be 0 to 128"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        ck_assert_msg(lossd_trust_parse(&t, bad[i].list, why, sizeof why) == -1, "\"%s\" accepted",
                      bad[i].list);
        ck_assert_msg(strstr(why, bad[i].fragment) != NULL, "\"%s\": %s", bad[i].list, why);
    }
}
END_TEST

START_TEST(peer_addresses)
{
    static const struct {
        const char *address;
        unsigned port;
        const char *shown;
    } cases[] = {
        {"203.0.113.7", 51234, "203.0.113.7:51234"},
        {"127.0.0.1", 0, "127.0.0.1:0"},
        {"::1", 8080, "[::1]:8080"},
        {"2001:db8::1", 65535, "[2001:db8::1]:65535"},
        {"::ffff:198.51.100.2", 443, "198.51.100.2:443"}, /* a dual-stack socket's IPv4 client */
    };
    char buf[LOSSD_ADDRESS_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss = sock(cases[i].address, cases[i].port);
        lossd_client_peer((struct sockaddr *)&ss, buf);
        ck_assert_str_eq(buf, cases[i].shown);
    }
    struct sockaddr unix_like = {.sa_family = AF_UNIX};
    lossd_client_peer(&unix_like, buf);
    ck_assert_str_eq(buf, "-");
    lossd_client_peer(NULL, buf);
    ck_assert_str_eq(buf, "-");
}
END_TEST

/* The client lossd_client_address names for a peer and X-Forwarded-For values. */
static void expect_client(const lossd_trust *t, const char *peer, const char *const *forwarded,
                          size_t n, const char *want)
{
    struct sockaddr_storage ss = sock(peer, 40000);
    char buf[LOSSD_ADDRESS_MAX];
    lossd_client_address(t, (struct sockaddr *)&ss, forwarded, n, buf);
    ck_assert_msg(strcmp(buf, want) == 0, "peer %s, %zu header(s) (%s): %s, want %s", peer, n,
                  n ? forwarded[n - 1] : "", buf, want);
}

#define XFF(...)                          \
    ((const char *const[]){__VA_ARGS__}), \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

START_TEST(forwarded_clients)
{
    lossd_trust t = trust_of("10.0.0.0/8,fd00::/8");
    /* a trusted proxy names its client */
    expect_client(&t, "10.0.0.2", XFF("203.0.113.7"), "203.0.113.7");
    expect_client(&t, "fd00::2", XFF("2001:db8::5"), "2001:db8::5");
    /* a peer that is not trusted is the client, whatever it says */
    expect_client(&t, "198.51.100.9", XFF("203.0.113.7"), "198.51.100.9:40000");
    expect_client(&t, "::1", XFF("203.0.113.7"), "[::1]:40000");
    /* no header: the proxy itself */
    expect_client(&t, "10.0.0.2", NULL, 0, "10.0.0.2:40000");
    /* a chain of trusted proxies: the right-most untrusted address */
    expect_client(&t, "10.0.0.3", XFF("203.0.113.7, 10.0.0.1,10.0.0.2"), "203.0.113.7");
    /* the client's own X-Forwarded-For is appended to, never believed */
    expect_client(&t, "10.0.0.2", XFF("6.6.6.6, 203.0.113.7"), "203.0.113.7");
    /* every hop trusted: the left-most */
    expect_client(&t, "10.0.0.2", XFF("10.0.0.5, 10.0.0.6"), "10.0.0.5");
    /* not an address: nothing left of it is believed */
    expect_client(&t, "10.0.0.2", XFF("junk, 203.0.113.7"), "203.0.113.7");
    expect_client(&t, "10.0.0.2", XFF("203.0.113.7, junk"), "10.0.0.2:40000");
    expect_client(&t, "10.0.0.2", XFF("203.0.113.7, 10.0.0.4, unknown"), "10.0.0.2:40000");
    expect_client(&t, "10.0.0.2", XFF("203.0.113.7,, 10.0.0.4"), "10.0.0.4");
    expect_client(&t, "10.0.0.2", XFF(""), "10.0.0.2:40000");
    /* ports and brackets as some proxies write them; IPv4-mapped is IPv4 */
    expect_client(&t, "10.0.0.2", XFF("[2001:db8::7]:1234"), "2001:db8::7");
    expect_client(&t, "10.0.0.2", XFF("[2001:db8::8]"), "2001:db8::8");
    expect_client(&t, "10.0.0.2", XFF("203.0.113.8:5555"), "203.0.113.8");
    expect_client(&t, "10.0.0.2", XFF("::ffff:203.0.113.9"), "203.0.113.9");
    expect_client(&t, "::ffff:10.0.0.2", XFF("203.0.113.10"), "203.0.113.10");
    /* several headers: one list, in order */
    expect_client(&t, "10.0.0.2", XFF("203.0.113.7", "10.0.0.9"), "203.0.113.7");
    expect_client(&t, "10.0.0.2", XFF("6.6.6.6", "203.0.113.7, 10.0.0.9"), "203.0.113.7");
    /* no trust list: always the peer */
    lossd_trust none = {0};
    expect_client(&none, "10.0.0.2", XFF("203.0.113.7"), "10.0.0.2:40000");
    expect_client(NULL, "10.0.0.2", XFF("203.0.113.7"), "10.0.0.2:40000");
}
END_TEST

START_TEST(request_ids_taken)
{
    ck_assert(lossd_request_id_valid("abc"));
    ck_assert(lossd_request_id_valid("0f8e2a7c-4b1d-4e5f-9a3b-2c6d8e0f1a2b"));
    ck_assert(lossd_request_id_valid("a!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
    char id[LOSSD_REQUEST_ID_MAX + 2];
    memset(id, 'x', sizeof id - 1);
    id[LOSSD_REQUEST_ID_MAX] = '\0'; /* 128 bytes */
    ck_assert(lossd_request_id_valid(id));
    id[LOSSD_REQUEST_ID_MAX] = 'x'; /* 129 */
    id[LOSSD_REQUEST_ID_MAX + 1] = '\0';
    ck_assert(!lossd_request_id_valid(id));
    static const char *const bad[] = {"",        "a b",         "tab\there",
                                      "del\x7f", "caf\xc3\xa9", "new\nline"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!lossd_request_id_valid(bad[i]), "\"%s\" taken", bad[i]);
    ck_assert(!lossd_request_id_valid(NULL));
}
END_TEST

#define IDS_PER_THREAD 1000

static void *make_ids(void *arg)
{
    char(*ids)[LOSSD_REQUEST_ID_GENERATED] = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++)
        lossd_request_id_generate(ids[i]);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(request_ids_generated)
{
    /* Unique across threads and calls; each one a valid id of the documented form. */
    static char ids[4 * IDS_PER_THREAD][LOSSD_REQUEST_ID_GENERATED];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, make_ids, ids[t * IDS_PER_THREAD]), 0);
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    for (size_t i = 0; i < 4 * IDS_PER_THREAD; i++) {
        ck_assert_msg(lossd_request_id_valid(ids[i]), "%s", ids[i]);
        ck_assert_uint_eq(strspn(ids[i], "0123456789abcdef"), 16);
        ck_assert_int_eq(ids[i][16], '-');
        ck_assert_int_eq(strncmp(ids[i], ids[0], 16), 0); /* one process, one prefix */
    }
    qsort(ids, 4 * IDS_PER_THREAD, sizeof ids[0], compare_ids);
    for (size_t i = 1; i < 4 * IDS_PER_THREAD; i++)
        ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0, "%s twice", ids[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client");
    add_case(s, "addresses", 10, NULL, NULL, TESTS(trust_lists, peer_addresses, forwarded_clients));
    add_case(s, "request ids", 10, NULL, NULL, TESTS(request_ids_taken, request_ids_generated));
    return run_service_suite(s);
}
