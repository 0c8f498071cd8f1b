// SPDX-License-Identifier: GPL-2.0
/* The C half of rnbd_hello, called from hello_main.rs. */
#include <linux/overflow.h>
#include <linux/types.h>

int rnbd_hello_multiply(int a, int b);

int rnbd_hello_multiply(int a, int b)
{
	return wrapping_mul(int, a, b);
}
