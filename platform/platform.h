/*
 * platform.h - what the core's callers get from each platform: a clock.
 * Threads join this interface with the native speed work.
 */
#ifndef PINFER_PLATFORM_H
#define PINFER_PLATFORM_H

/* Milliseconds from an arbitrary start, monotonic. */
double platform_now_ms(void);

#endif
