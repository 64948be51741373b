/* syscalls.h - each module's declaration of the system calls it makes
 * after start-up, from which isolation.c builds the seccomp allow-list
 *
 * Theory of operation
 * A module writes, next to the function that makes a call at run time,
 *	SYSCALL_ALLOW(SYS_NS | SYS_VM, recvmmsg);
 * or, to allow the call only for some values of one or two of its
 * arguments (each compared under a mask; several declarations of one call
 * are alternatives),
 *	SYSCALL_ALLOW_ARG(SYS_NS, ioctl, 1, SIOCOUTQ);
 *	SYSCALL_ALLOW_ARGS(SYS_NS | SYS_VM, socket, 0, AF_INET,
 *			   1, 0xf, SOCK_STREAM);
 * Each declaration is a constant placed in one linker section; the linker
 * collects the sections of every object linked in, so the filter holds
 * exactly the calls of the code the binary contains, and the list is
 * reviewed with that code. Calls made only during start-up, before the
 * filter exists, are not declared. SYS_HELPER is the namespace helper's
 * filter (nshelper.c), which is separate and much smaller.
 */
#ifndef SYSCALLS_H
#define SYSCALLS_H

#include <stdint.h>
#include <sys/syscall.h>

enum syscall_mode {
	SYS_NS		= 1 << 0,	/* namespace mode (pasta) */
	SYS_VM		= 1 << 1,	/* VM mode (passt) */
	SYS_HELPER	= 1 << 2,	/* the namespace helper */
	SYS_VU		= 1 << 3,	/* VM mode with vhost-user, besides SYS_VM */
};

#define SYSCALL_ARGS_MAX	2

/**
 * struct syscall_arg - One argument condition: (arg & mask) == value
 * @index:	Argument number, 0 to 5; -1 for an unused condition
 * @mask:	Bits compared
 * @value:	Value they must have
 */
struct syscall_arg {
	int index;
	uint64_t mask;
	uint64_t value;
};

/**
 * struct syscall_decl - A system call a module makes after start-up
 * @name:	Name, as printed by --print-syscalls
 * @nr:		Number on this architecture
 * @modes:	Filters it belongs to (enum syscall_mode bits)
 * @arg:	Conditions on its arguments, all of which must hold
 * @cond:	The conditions as written, "" for none
 * @file:	Source file that declares it
 */
struct syscall_decl {
	const char *name;
	long nr;
	unsigned int modes;
	struct syscall_arg arg[SYSCALL_ARGS_MAX];
	const char *cond;
	const char *file;
};

#define SYSCALL_CAT_(a, b)	a##b
#define SYSCALL_CAT(a, b)	SYSCALL_CAT_(a, b)
#define SYSCALL_DECL_(modes, call, i0, m0, v0, i1, m1, v1, cond)	\
	static const struct syscall_decl				\
	SYSCALL_CAT(syscall_decl_, __COUNTER__)				\
	__attribute__((section("passtd_syscalls"), used, aligned(8))) = \
	{ #call, __NR_##call, (modes),					\
	  { { (i0), (m0), (v0) }, { (i1), (m1), (v1) } }, cond, __FILE__ }

/*
 * The arguments compared are ints (families, levels, commands) or ioctl
 * requests that fit 32 bits: only the low 32 bits are compared, as what a
 * caller leaves in the upper half of the register is not defined.
 */
#define SYSCALL_ARG_LOW		0xffffffffULL

/* The call, whatever its arguments */
#define SYSCALL_ALLOW(modes, call)					\
	SYSCALL_DECL_(modes, call, -1, 0, 0, -1, 0, 0, "")

/* The call, with argument @i equal to @v */
#define SYSCALL_ALLOW_ARG(modes, call, i, v)				\
	SYSCALL_DECL_(modes, call, (i), SYSCALL_ARG_LOW, (uint32_t)(v),	\
		      -1, 0, 0, "arg" #i " == " #v)

/* The call, with argument @i equal to @v and (argument @j & @m) to @w */
#define SYSCALL_ALLOW_ARGS(modes, call, i, v, j, m, w)			\
	SYSCALL_DECL_(modes, call, (i), SYSCALL_ARG_LOW, (uint32_t)(v),	\
		      (j), (uint32_t)(m), (uint32_t)(w),			\
		      "arg" #i " == " #v ", arg" #j " & " #m " == " #w)

#endif /* SYSCALLS_H */
