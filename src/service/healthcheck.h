/* SPDX-License-Identifier: MIT */
/*
 * healthcheck.h - `lossd --healthcheck`: GET /healthz on the configured
 * address, for container health checks in images without curl.
 */
#ifndef LOSSD_SERVICE_HEALTHCHECK_H
#define LOSSD_SERVICE_HEALTHCHECK_H

#include "options.h"

/* Returns 0 when the server answers 200 within 5 seconds, 1 otherwise (the reason on stderr). */
int lossd_healthcheck(const lossd_config *cfg);

#endif /* LOSSD_SERVICE_HEALTHCHECK_H */
