/*
 * json.h - a small strict JSON reader (RFC 8259) for the test fixtures.
 *
 * json_parse() builds a tree that json_free() releases. Every accessor
 * accepts NULL or a value of the wrong kind and then returns an empty result,
 * so a missing field shows up as a failed check rather than a crash.
 */
#ifndef PINFER_JSON_H
#define PINFER_JSON_H

#include <stddef.h>

typedef struct json_value json_value;

/* Parses n bytes holding one JSON value and optional surrounding whitespace. NULL on invalid JSON. */
json_value *json_parse(const char *text, size_t n);
void json_free(json_value *v);

/* Returns the value of member key (the first if the key repeats), or NULL if absent or not an object. */
const json_value *json_get(const json_value *object, const char *key);

/* Returns the element count of an array, or 0 if not an array. */
size_t json_len(const json_value *array);

/* Returns element i of an array, or NULL if out of range or not an array. */
const json_value *json_at(const json_value *array, size_t i);

/* Returns the number, 1 for true, and 0 for false or anything else that is not a number. */
double json_number(const json_value *v);

/*
 * Returns the decoded UTF-8 bytes of a string and stores their count in len.
 * The bytes end with a NUL but may contain NUL too. A \uXXXX surrogate pair
 * becomes one character and a lone surrogate becomes U+FFFD. Returns NULL
 * with *len = 0 if v is not a string.
 */
const char *json_string(const json_value *v, size_t *len);

int json_is_null(const json_value *v);

#endif
