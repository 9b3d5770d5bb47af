/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-log.h"

#include <stdarg.h>
#include <stdio.h>

void kv_log(int priority, const char *format, ...)
{
  static int journal = -1;
  va_list args;

  /* Deliberately not g_log(): G_DEBUG=fatal-warnings in a client's environment, which
   * D-Bus activation passes on, must not turn a logged failure into a crash. */
  if (journal < 0)
    journal = g_getenv("JOURNAL_STREAM") != NULL;

  if (journal)
    fprintf(stderr, "<%d>", priority);
  else
    fputs("kvstored: ", stderr);
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
}
