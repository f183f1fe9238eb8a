#ifndef MGPR_CMALLOC_SHIM_H
#define MGPR_CMALLOC_SHIM_H
// glibc's allocator tuning (mallopt), which the Glibc module does not carry.
#include <malloc.h>
#endif
