// SPDX-License-Identifier: GPL-2.0
/*
 * mflow tracepoints: the one file that instantiates the events declared
 * in mflow_trace.h.
 */

#define CREATE_TRACE_POINTS
#include "mflow_trace.h"
