/*
 * vocab.h - tokenizers read from GGUF metadata: SentencePiece
 * (tokenizer.ggml.model = "llama") and byte-level BPE ("gpt2" with
 * tokenizer.ggml.pre = "llama-bpe"), plus detokenization.
 */
#ifndef PINFER_VOCAB_H
#define PINFER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

typedef struct llm_vocab llm_vocab;

/* Builds the vocabulary from tokenizer.ggml.* metadata. NULL and a message on error. */
llm_vocab *llm_vocab_open(const gguf_file *f, llm_error *err);
void llm_vocab_close(llm_vocab *v);

int32_t llm_vocab_size(const llm_vocab *v);
int32_t llm_vocab_bos(const llm_vocab *v); /* -1 when the model has none */
int32_t llm_vocab_eos(const llm_vocab *v); /* -1 when the model has none */

/* 1 when generation stops at this token: EOS, EOT, EOM and the like. */
int llm_vocab_is_eog(const llm_vocab *v, int32_t id);

/*
 * Tokenizes n bytes of text. add_bos prepends BOS if the model requests
 * one (tokenizer.ggml.add_bos_token, true unless the file sets it false) and
 * the result does not already start with it. parse_special matches control
 * tokens written in the text (such as "<|eot_id|>"); user-defined tokens are
 * always matched, as in llama.cpp. Writes at most max_out ids and returns how
 * many the text needs, so a return value above max_out means out was too
 * small. Returns -1 only when memory runs out.
 */
int llm_tokenize(const llm_vocab *v, const char *text, size_t n, int add_bos, int parse_special,
                 int32_t *out, int max_out);

/*
 * Writes the bytes that token id stands for in generated text (at most cap)
 * and returns their count, which may exceed cap. Control tokens give no
 * bytes. A piece may end inside a UTF-8 character; see utf8.h.
 */
int llm_token_piece(const llm_vocab *v, int32_t id, char *buf, int cap);

#endif
