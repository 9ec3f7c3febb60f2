// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: JSON output. Every JSON document is one object with the key
 * "json_version" first; docs/mflowctl-json.md is the schema. Standard
 * output is checked once, at the end (finish() in args.c), so every
 * printf here may stay unchecked.
 */
#include <stdio.h>

#include "mflowctl.h"

void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* A console's name, or null for none. */
void json_name(const char *s)
{
	if (s && *s)
		json_str(s);
	else
		printf("null");
}

/* "{" and the version key; the caller goes on with ",\"key\":...". */
void json_begin(void)
{
	printf("{\"json_version\":%d", JSON_VERSION);
}

/* MFLOW_INFO_* bit i's name, as JSON and the text output show it. */
static const char *const flag_names[] = {
	"rd_shut", "wr_shut", "peer_rd_shut", "peer_wr_shut",
	"peer_attached", "peer_detached", "nosigpipe", NULL,
};

const char *const *info_flag_names(void)
{
	return flag_names;
}

/* MFLOW_INFO_* flags as an array of names; unknown bits as "bitN". */
void json_flags(uint32_t flags)
{
	bool first = true;
	int i;

	putchar('[');
	for (i = 0; i < 32; i++) {
		if (!(flags & (1U << i)))
			continue;
		if (!first)
			putchar(',');
		first = false;
		if (i < 7)
			printf("\"%s\"", flag_names[i]);
		else
			printf("\"bit%d\"", i);
	}
	putchar(']');
}
