#include <stdio.h>
#include "abi.h"
int main(void) { printf("silvertine abi %u\n", sv_abi_version()); return 0; }
