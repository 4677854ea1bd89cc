/* platform_posix.c - the platform interface on Linux and macOS. */
#include "platform.h"

#include <time.h>

double platform_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
