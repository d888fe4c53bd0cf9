/* version.c: gk_version (gmmkit/gmmkit.h). */
#include "gmmkit/gmmkit.h"

#ifndef GK_VERSION_STRING
#define GK_VERSION_STRING "0.0.0"
#endif

const char *gk_version(void) { return GK_VERSION_STRING; }
