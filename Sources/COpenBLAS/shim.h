// CBLAS from OpenBLAS (Debian: libopenblas-dev).
#pragma once
#include <cblas.h>
