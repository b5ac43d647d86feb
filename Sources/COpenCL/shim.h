// OpenCL 1.2 host API through the ICD loader (Debian: ocl-icd-opencl-dev, opencl-headers).
#pragma once
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
