/* SPDX-License-Identifier: MIT */
/*
 * client.c - client addresses, trusted proxies and request ids (see
 * client.h).
 *
 * IPv4 clients of a dual-stack listener arrive as IPv4-mapped IPv6
 * addresses (::ffff:203.0.113.7); they are treated as the IPv4 address
 * they are, in the log and against the trust list alike.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* An address reduced to what matters here: its bytes and family. */
typedef struct {
    unsigned char bytes[16];
    bool v6;
} address;

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The address (and port) of a socket address; false when it is neither IPv4 nor IPv6. */
static bool address_of(const struct sockaddr *sa, address *a, unsigned *port)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(a->bytes, &in->sin_addr, 4);
        a->v6 = false;
        *port = ntohs(in->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const unsigned char *b = (const unsigned char *)&in6->sin6_addr;
        a->v6 = memcmp(b, v4_mapped, sizeof v4_mapped) != 0;
        memcpy(a->bytes, a->v6 ? b : b + 12, a->v6 ? 16 : 4);
        *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

/* Reads a plain numeric address, IPv4 or IPv6 (NUL-terminated). */
static bool parse_plain(const char *text, address *a)
{
    unsigned char bytes[16];
    if (inet_pton(AF_INET, text, bytes) == 1) {
        memcpy(a->bytes, bytes, 4);
        a->v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return false;
    a->v6 = memcmp(bytes, v4_mapped, sizeof v4_mapped) != 0;
    memcpy(a->bytes, a->v6 ? bytes : bytes + 12, a->v6 ? 16 : 4);
    return true;
}

/*
 * Reads an address of len bytes at text as X-Forwarded-For may carry it:
 * plain, or with a port ("a.b.c.d:p", "[v6]", "[v6]:p"). False when it
 * is none of these.
 */
static bool parse_address(const char *text, size_t len, address *a)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *at = buf, *colon = strchr(buf, ':');
    if (at[0] == '[') { /* [v6] or [v6]:port */
        char *close = strchr(at, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return false;
        *close = '\0';
        at++;
    } else if (colon && colon == strrchr(buf, ':') && strchr(buf, '.')) {
        *colon = '\0'; /* a.b.c.d:port */
    }
    return parse_plain(at, a);
}

int lossd_trust_parse(lossd_trust *t, const char *list, char *why, size_t why_size)
{
    memset(t, 0, sizeof *t);
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char item[INET6_ADDRSTRLEN + 8];
        if (len == 0 || len >= sizeof item) {
            snprintf(why, why_size,
                     "expected a comma-separated list of CIDR ranges (such as "
                     "10.0.0.0/8 or fd00::/8), got an empty or overlong item");
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (t->n == LOSSD_TRUST_MAX) {
            snprintf(why, why_size, "at most %d ranges", LOSSD_TRUST_MAX);
            return -1;
        }
        lossd_cidr *c = &t->ranges[t->n];
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        address a;
        if (!parse_plain(item, &a)) {
            snprintf(why, why_size, "\"%s\" is not an IPv4 or IPv6 address", item);
            return -1;
        }
        unsigned max = a.v6 ? 128 : 32, bits = max;
        if (slash) {
            char *digits = slash + 1, *after;
            unsigned long n = strtoul(digits, &after, 10);
            /* An IPv4-mapped range counts its prefix over the IPv6 address. */
            bool mapped = !a.v6 && strchr(item, ':');
            if (digits[0] < '0' || digits[0] > '9' || *after || n > (mapped ? 128 : max) ||
                (mapped && n < 96)) {
                snprintf(why, why_size, "\"%s/%s\": the prefix length must be 0 to %u", item,
                         digits, mapped ? 128 : max);
                return -1;
            }
            bits = mapped ? (unsigned)n - 96 : (unsigned)n;
        }
        memset(c->bytes, 0, sizeof c->bytes);
        for (unsigned i = 0; i < bits; i++) /* host bits cleared: 10.1.2.3/8 is 10.0.0.0/8 */
            c->bytes[i / 8] |= a.bytes[i / 8] & (unsigned char)(0x80u >> (i % 8));
        c->bits = bits;
        c->v6 = a.v6;
        t->n++;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

static bool in_range(const lossd_cidr *c, const address *a)
{
    if (c->v6 != a->v6)
        return false;
    unsigned whole = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->bytes, a->bytes, whole) != 0)
        return false;
    unsigned char mask = (unsigned char)(0xFF00u >> rest);
    return rest == 0 || (a->bytes[whole] & mask) == c->bytes[whole];
}

static bool trusted(const lossd_trust *t, const address *a)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (in_range(&t->ranges[i], a))
            return true;
    return false;
}

bool lossd_trust_contains(const lossd_trust *t, const struct sockaddr *sa)
{
    address a;
    unsigned port;
    return address_of(sa, &a, &port) && trusted(t, &a);
}

/* Writes a's text ("[v6]" when bracketed) at buf; returns its length. */
static size_t write_address(const address *a, bool bracketed, char *buf)
{
    size_t n = 0;
    if (!a->v6) { /* dotted quads by hand: glibc's inet_ntop prints them with sprintf */
        for (int i = 0; i < 4; i++) {
            unsigned b = a->bytes[i];
            if (i)
                buf[n++] = '.';
            if (b >= 100)
                buf[n++] = (char)('0' + b / 100);
            if (b >= 10)
                buf[n++] = (char)('0' + b / 10 % 10);
            buf[n++] = (char)('0' + b % 10);
        }
        buf[n] = '\0';
        return n;
    }
    if (bracketed)
        buf[n++] = '[';
    inet_ntop(AF_INET6, a->bytes, buf + n, INET6_ADDRSTRLEN);
    n += strlen(buf + n);
    if (a->v6 && bracketed)
        buf[n++] = ']';
    buf[n] = '\0';
    return n;
}

void lossd_client_peer(const struct sockaddr *sa, char *buf)
{
    address a;
    unsigned port;
    if (!address_of(sa, &a, &port)) {
        strcpy(buf, "-");
        return;
    }
    size_t n = write_address(&a, true, buf);
    char digits[8];
    size_t d = 0;
    do
        digits[d++] = (char)('0' + port % 10);
    while ((port /= 10) > 0);
    buf[n++] = ':';
    while (d > 0)
        buf[n++] = digits[--d];
    buf[n] = '\0';
}

void lossd_client_address(const lossd_trust *t, const struct sockaddr *peer,
                          const char *const *forwarded, size_t n, char *buf)
{
    address a, client;
    unsigned port;
    if (t == NULL || t->n == 0 || n == 0 || !address_of(peer, &a, &port) || !trusted(t, &a)) {
        lossd_client_peer(peer, buf);
        return;
    }
    /* From the right: each trusted hop names the one before it. */
    bool found = false;
    for (size_t h = n; h-- > 0;) {
        const char *value = forwarded[h], *end = value + strlen(value);
        while (end > value) {
            const char *start = end;
            while (start > value && start[-1] != ',')
                start--;
            const char *item = start, *item_end = end;
            while (item < item_end && (*item == ' ' || *item == '\t'))
                item++;
            while (item_end > item && (item_end[-1] == ' ' || item_end[-1] == '\t'))
                item_end--;
            end = start > value ? start - 1 : value;
            if (!parse_address(item, (size_t)(item_end - item), &client))
                goto done; /* not an address: believe nothing left of it */
            found = true;
            if (!trusted(t, &client))
                goto done;
        }
    }
done:
    if (found)
        write_address(&client, false, buf);
    else
        lossd_client_peer(peer, buf);
}

bool lossd_request_id_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (; id[n]; n++)
        if (n == LOSSD_REQUEST_ID_MAX || id[n] < 0x21 || id[n] > 0x7E)
            return false;
    return n > 0;
}

static char id_prefix[17];
static atomic_uint next_thread;

static void write_hex(char *out, unsigned long long v, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = digits; i-- > 0; v >>= 4)
        out[i] = hex[v & 15];
}

/* The process's part of every id: random when the kernel gives it, else time and pid. */
static void make_prefix(void)
{
    unsigned long long seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((unsigned long long)ts.tv_sec << 32) ^ (unsigned long long)ts.tv_nsec ^
               ((unsigned long long)getpid() << 16);
    }
    write_hex(id_prefix, seed, 16);
    id_prefix[16] = '\0';
}

/* Hex digits of v without leading zeros (at least one). */
static size_t put_hex(char *out, unsigned long long v)
{
    size_t digits = 1;
    for (unsigned long long rest = v >> 4; rest; rest >>= 4)
        digits++;
    write_hex(out, v, digits);
    return digits;
}

char *lossd_request_id_generate(char *buf)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static __thread unsigned thread_no;
    static __thread unsigned long long sequence;
    pthread_once(&once, make_prefix);
    if (thread_no == 0)
        thread_no = atomic_fetch_add(&next_thread, 1) + 1;
    size_t n = 16;
    memcpy(buf, id_prefix, n);
    buf[n++] = '-';
    n += put_hex(buf + n, thread_no);
    buf[n++] = '-';
    n += put_hex(buf + n, ++sequence);
    buf[n] = '\0';
    return buf;
}
