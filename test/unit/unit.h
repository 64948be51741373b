/* test/unit/unit.h - minimal KTAP unit test helpers
 *
 * Each test file defines test functions and lists them in main() with
 * UNIT_RUN(); CHECK() records a failure with file and line and lets the
 * test continue, so one run reports every broken expectation.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int unit_failed_checks;
static int unit_test_no;
static int unit_total_failed;

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			printf("# %s:%d: check failed: %s\n",		\
			       __FILE__, __LINE__, #cond);		\
			unit_failed_checks++;				\
		}							\
	} while (0)

#define UNIT_PLAN(n)	printf("KTAP version 1\n1..%d\n", (n))

#define UNIT_RUN(fn)							\
	do {								\
		unit_failed_checks = 0;					\
		fn();							\
		unit_test_no++;						\
		if (unit_failed_checks) {				\
			unit_total_failed++;				\
			printf("not ok %d %s\n", unit_test_no, #fn);	\
		} else {						\
			printf("ok %d %s\n", unit_test_no, #fn);	\
		}							\
	} while (0)

#define UNIT_EXIT()	return unit_total_failed ? 1 : 0

#endif /* UNIT_H */
