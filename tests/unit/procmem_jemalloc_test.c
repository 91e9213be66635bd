/* procmem_test.c's tests with jemalloc as the program's malloc (linked in
 * by tests/unit/procmem.cmake): the heap figures come from mallctl(). */
#define PROCMEM_TEST_JEMALLOC	1
#include "procmem_test.c"
