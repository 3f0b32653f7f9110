// Package uring is the part of Linux's io_uring that herald uses, made as
// raw system calls: set a ring up, map its queues, fill submission
// entries, read completions, enter. It has no library under it because
// the ABI is five structures and three system calls; the tests check the
// structures against the kernel's sizes. Everything but this comment is
// Linux only.
package uring
