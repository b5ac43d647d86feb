// CLBlast's C API (Debian: libclblast-dev): tuned GEMM on OpenCL devices.
#pragma once
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast_c.h>
