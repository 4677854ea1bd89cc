/*
 * quant_ref.h - the scalar kernels of quant_ref.c that a SIMD table uses
 * where it has no faster version of its own.
 *
 * They are the functions of llm_kernels_scalar, under names that other
 * files can reach, so a table names them directly instead of wrapping
 * llm_kernels_scalar in a function of its own.
 */
#ifndef PINFER_QUANT_REF_H
#define PINFER_QUANT_REF_H

#include <stdint.h>

/* Dequantizers: n elements of src into dst. */
void llm_ref_bf16_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_f16_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_f32_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_iq4nl_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q2k_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q3k_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q4_0_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q4_1_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q4k_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q5_0_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q5_1_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q5k_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q6k_dequantize(const void *src, float *dst, int64_t n);
void llm_ref_q8_0_dequantize(const void *src, float *dst, int64_t n);

/* Activation converters: n floats of src into dst. */
void llm_ref_bf16_quantize(const float *src, void *dst, int64_t n);
void llm_ref_f16_quantize(const float *src, void *dst, int64_t n);
void llm_ref_f32_copy(const float *src, void *dst, int64_t n);
void llm_ref_q8_1_quantize(const float *src, void *dst, int64_t n);

/* Dot products of a weight row with an activation row of n elements. */
float llm_ref_bf16_dot_bf16(int64_t n, const void *weights, const void *acts);
float llm_ref_f32_dot_f32(int64_t n, const void *weights, const void *acts);
float llm_ref_iq4nl_dot_q8_0(int64_t n, const void *weights, const void *acts);
float llm_ref_q2k_dot_q8k(int64_t n, const void *weights, const void *acts);
float llm_ref_q4_0_dot_q8_0(int64_t n, const void *weights, const void *acts);
float llm_ref_q4_1_dot_q8_1(int64_t n, const void *weights, const void *acts);
float llm_ref_q5_0_dot_q8_0(int64_t n, const void *weights, const void *acts);
float llm_ref_q5_1_dot_q8_1(int64_t n, const void *weights, const void *acts);

#endif
