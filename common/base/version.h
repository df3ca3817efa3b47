/* SPDX-License-Identifier: ISC */
/* version.h - the toolkit's version, reported by --version and in streams. */
#ifndef BN_VERSION_H
#define BN_VERSION_H
#define BN_VERSION "0.1.0"
#endif
