/* test_quant.c - placeholder until this suite is written; it checks nothing yet. */
#include "check.h"

void test_quant(void)
{
}
