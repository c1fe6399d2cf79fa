/* Start-up probe for the CPU benchmark: exits at once so the runner can time VM start-up. */
#include "bench.h"

int main(void)
{
	bench_checksum("nop", 0);
	return 0;
}
