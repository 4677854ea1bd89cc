/*
 * error.h - the error record every fallible core call fills.
 *
 * The core never prints or exits: a failing call returns LLM_ERR (or NULL)
 * and writes one line into llm_error.message. The platform layer decides
 * how to show it.
 */
#ifndef PINFER_ERROR_H
#define PINFER_ERROR_H

#define LLM_OK 0
#define LLM_ERR (-1)

typedef struct {
    char message[512];
} llm_error;

/* Formats a message into err (which may be NULL) and returns LLM_ERR. */
int llm_fail(llm_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
