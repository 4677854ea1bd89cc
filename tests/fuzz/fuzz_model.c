/*
 * fuzz_model.c - libFuzzer target: any bytes as a GGUF model file.
 *
 * The reader and loader must accept or reject every input without a crash,
 * a read out of bounds or unbounded allocation. An accepted model also runs
 * one token through a 4-token context, since evaluation reads every tensor.
 * llm_model_peek reads the first half of the input as the start of a file
 * twice as long (as the browser does while a download runs), and on the
 * whole input it must agree with llm_model_open.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_error err;
    llm_model *m = llm_model_open(data, size, "fuzz.gguf", &err);
    llm_ctx_params cp = {4, NULL, {NULL, NULL, 1}};
    llm_ctx *c;
    llm_hparams hp;
    int32_t token = 0;
    int peeked;

    llm_model_peek(data, size / 2, (uint64_t)size * 2, "fuzz.gguf", &hp, &err);
    peeked = llm_model_peek(data, size, size, "fuzz.gguf", &hp, &err);
    if (!m)
        return 0;
    if (peeked != LLM_OK || memcmp(&hp, llm_model_hparams(m), sizeof hp) != 0)
        abort(); /* peek on the whole file disagrees with llm_model_open */
    /* Bounds the work: evaluation costs about one pass over the weights, which the input bounds. */
    c = llm_ctx_new(m, &cp, &err);
    if (c) {
        llm_eval(c, &token, 1, &err);
        llm_ctx_free(c);
    }
    llm_model_close(m);
    return 0;
}
