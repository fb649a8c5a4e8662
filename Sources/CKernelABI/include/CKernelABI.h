/* Umbrella header: SwiftPM's module map includes exactly this file. */
#ifndef CKERNELABI_H
#define CKERNELABI_H

#include "kabi_bodies.h"
#include "kabi_clone3.h"
#include "kabi_errno.h"
#include "kabi_files.h"
#include "kabi_nsfs.h"
#include "kabi_probe.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"
#include "kabi_selftest.h"
#include "kabi_syscalls.h"
#include "kabi_threads.h"
#include "kabi_tree.h"

#endif
