/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_print.h - confabctl's human output. */
#ifndef CF_CTL_PRINT_H
#define CF_CTL_PRINT_H

#include <jansson.h>

/* Print a successful answer to `noun verb` for a person: the "message"
 * line when the answer has one, else a layout per command (status, domain
 * list, user list, user show, location show), else key: value lines. */
void cf_ctl_print(const char *noun, const char *verb, json_t *resp);

#endif
