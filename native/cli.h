/*
 * cli.h - the pinfer command line, shared by the native and the WASI build.
 *
 * cli.c parses the flags, tokenizes, evaluates, samples and prints the
 * statistics. Each platform's main.c supplies the cli_platform_* functions
 * below: native/main.c maps the model file, and wasi/main.c reads it through
 * a preopened directory and checks it against wasm32's memory.
 * Every error is one line on stderr starting with "pinfer: ", and exit status 1.
 */
#ifndef PINFER_CLI_H
#define PINFER_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "llm.h"

/* A model file's bytes as the platform brought them in; bytes is NULL for an empty file. */
typedef struct {
    void *bytes;
    size_t n_bytes;
    int owned; /* 1 when the platform must release bytes (mapped or allocated) */
} cli_model_file;

/* How the user asked for the model file to be brought in (--no-mmap, --mlock). */
typedef struct {
    int no_mmap; /* read the file into memory instead of mapping it */
    int mlock;   /* lock the model's pages in memory */
} cli_load_options;

/* Runs the command line; returns the process exit status. */
int cli_main(int argc, char **argv);

/* Prints "pinfer: " and fmt with a and b on stderr and returns 1, the exit status of a failed run. */
int cli_fail(const char *fmt, const char *a, const char *b);

/*
 * Loads the model at path into file, honouring the load options where the
 * platform can (WASI always reads the file). On failure prints one message
 * and returns 1.
 */
int cli_platform_load_model(const char *path, const cli_load_options *load, cli_model_file *file);
void cli_platform_unload_model(cli_model_file *file);

/*
 * Checks, before llm_ctx_new, that a context of n_ctx tokens fits next to
 * the loaded model. Prints a message with the numbers and returns 1 when it
 * cannot; the native build always returns 0 and leaves failures to malloc.
 */
int cli_platform_check_context(const char *path, const llm_model *model, uint32_t n_ctx);

/*
 * Called when the file at path could not be opened with errno err. Prints a
 * platform-specific message and returns 1 when the platform can explain the
 * failure better than strerror (WASI: no preopened directory contains it), else
 * prints nothing and returns 0.
 */
int cli_platform_explain_open_error(const char *path, int err);

#endif
