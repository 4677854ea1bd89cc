/*
 * fuzz_prompt.c - libFuzzer target: any bytes as a prompt to stories260K,
 * through the CLI's path: tokenize with BOS and special-token parsing
 * (on or off by the first byte), then evaluate in a context sized for it.
 * Prompts of up to 64 bytes are evaluated. Longer ones, up to 64 KiB, are
 * only tokenized, so that each run stays short enough to fuzz many inputs.
 * The model is read from ${PINFER_SHARED:-../shared}/models.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static llm_model *model;

static void load_model(void)
{
    const char *root = getenv("PINFER_SHARED");
    char path[4096];
    FILE *fp;
    long n;
    void *bytes;
    llm_error err;

    snprintf(path, sizeof path, "%s/models/stories260K.gguf", root && *root ? root : "../shared");
    fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz_prompt: cannot read %s (set PINFER_SHARED to the fixtures folder)\n", path);
        abort();
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    bytes = malloc((size_t)n);
    if (!bytes || fread(bytes, 1, (size_t)n, fp) != (size_t)n)
        abort();
    fclose(fp);
    model = llm_model_open(bytes, (size_t)n, "stories260K.gguf", &err);
    if (!model) {
        fprintf(stderr, "fuzz_prompt: %s\n", err.message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const llm_vocab *v;
    int32_t *ids;
    int n, parse_special;
    llm_ctx_params cp = {0, NULL, {NULL, NULL, 1}};
    llm_ctx *c;
    llm_error err;

    if (!model)
        load_model();
    if (size < 1 || size > 65536)
        return 0;
    v = llm_model_vocab(model);
    parse_special = data[0] & 1;
    n = llm_tokenize(v, (const char *)data + 1, size - 1, 1, parse_special, NULL, 0);
    if (n < 1)
        abort(); /* BOS alone makes one token */
    ids = malloc((size_t)n * sizeof *ids);
    if (llm_tokenize(v, (const char *)data + 1, size - 1, 1, parse_special, ids, n) != n || ids[0] != 1)
        abort();
    cp.n_ctx = (uint32_t)n;
    if (size <= 64 && (uint32_t)n <= llm_model_hparams(model)->n_ctx_train) {
        c = llm_ctx_new(model, &cp, &err);
        if (!c || llm_eval(c, ids, n, &err) != LLM_OK)
            abort();
        llm_ctx_free(c);
    }
    free(ids);
    return 0;
}
