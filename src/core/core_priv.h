/* SPDX-License-Identifier: BSD-3-Clause */
/* core_priv.h - helpers shared between the files of src/core only. */
#ifndef CF_CORE_PRIV_H
#define CF_CORE_PRIV_H

#include <stdbool.h>

/* True when the out-of-memory injection (cf_mem_fail_after) says this
 * allocation must fail. Used by every allocation in src/core, including the
 * plain malloc'd buffers of cf_mbuf, so OOM paths are testable. */
bool cf_mem_inject_fail(void);

#endif
