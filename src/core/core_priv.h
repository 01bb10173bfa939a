/* SPDX-License-Identifier: BSD-3-Clause */
/* core_priv.h - helpers shared between the files of src/core only. */
#ifndef CF_CORE_PRIV_H
#define CF_CORE_PRIV_H

#include <stdbool.h>

/* True when the out-of-memory injection (cf_mem_fail_after) says this
 * allocation must fail. Used by every allocation in src/core, including the
 * plain malloc'd buffers of cf_mbuf, so OOM paths are testable. */
bool cf_mem_inject_fail(void);

/* CF_MEM_DEBUG builds: the number of blocks on the live list (equal to
 * cf_mem_blocks()), and a dump of them to stderr (address, size, refs,
 * destructor) for a test that found a leak. -1 / no-op otherwise. */
long cf_mem_debug_live(void);
void cf_mem_debug_dump(void);

#endif
