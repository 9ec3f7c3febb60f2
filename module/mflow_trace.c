// SPDX-License-Identifier: GPL-2.0
/*
 * mflow tracepoints: the one file that instantiates the events declared
 * in mflow_trace.h, and the switch that lets payload bytes into them.
 */

#include <linux/moduleparam.h>

#define CREATE_TRACE_POINTS
#include "mflow_trace.h"

bool mflow_trace_payload;
module_param_named(trace_payload, mflow_trace_payload, bool, 0644);
MODULE_PARM_DESC(trace_payload,
		 "Read and write trace events carry the first 16 bytes of the data (root only; default off)");
