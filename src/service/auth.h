/* SPDX-License-Identifier: MIT */
/*
 * auth.h - bearer-token API keys, loaded once from --api-key-file and
 * compared in constant time.
 *
 * Threading: loaded before the server starts; lossd_auth_check() may then
 * run on any thread.
 */
#ifndef LOSSD_SERVICE_AUTH_H
#define LOSSD_SERVICE_AUTH_H

#include <stdbool.h>
#include <stdio.h>

typedef struct lossd_auth lossd_auth;

/*
 * Reads keys, one a line (blank lines and lines starting with # are
 * skipped; surrounding white space is trimmed). NULL after printing the
 * reason to err: an unreadable file, or one without any key.
 */
lossd_auth *lossd_auth_load(const char *path, FILE *err);
void lossd_auth_destroy(lossd_auth *a);

/*
 * True when `authorization` (the header's value, may be NULL) is
 * "Bearer KEY" with a configured KEY. Takes the same time whichever key
 * matches or how much of one does.
 */
bool lossd_auth_check(const lossd_auth *a, const char *authorization);

#endif /* LOSSD_SERVICE_AUTH_H */
