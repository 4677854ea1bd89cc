/* error.c - formatting for llm_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int llm_fail(llm_error *err, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return LLM_ERR;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return LLM_ERR;
}
